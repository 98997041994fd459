"""Plain-text views: the page, a health path, and the jobs' demo API (GET only)."""

from django.http import HttpResponse

from .models import Result, Tick
from .tasks import work


def text(body, status=200):
    return HttpResponse(body, status=status, content_type="text/plain; charset=utf-8")


def index(request):
    return text("hello from django-celery")


def health(request):
    # Neither the broker nor the database: the web processes' health only.
    return text("ok")


def enqueue(request, name):
    try:
        seconds = float(request.GET.get("seconds", "0"))
    except ValueError:
        seconds = -1.0
    # Also refuses nan and inf, which time.sleep() cannot take.
    if not 0 <= seconds <= 3600:
        return text("seconds must be a number from 0 to 3600", status=400)
    work.delay(name, seconds)
    return text("queued %s" % name)


def result(request, name):
    job = Result.objects.filter(name=name).first()
    if job is None:
        return text("unknown %s" % name, status=404)
    state = "finished" if job.finished_at else "started"
    return text("%s %s %s" % (name, job.version, state))


def ticks(request):
    return text("ticks=%d" % Tick.objects.count())
