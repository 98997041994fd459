import os
import socket

from django.http import HttpResponse

VERSION = "1"


def index(request):
    return HttpResponse(
        "Hello from Django on Gunicorn.\n"
        "host=%s worker=%d version=%s\n" % (socket.gethostname(), os.getpid(), VERSION),
        content_type="text/plain",
    )


def health(request):
    return HttpResponse("ok\n", content_type="text/plain")
