"""Settings of the hello-django demo: one view, a static file, no database.

What a deployed Django app reads from its environment: the secret key, debug, allowed hosts, and
STATIC_ROOT, where gunicorn-upstart's release task runs collectstatic (the service sets it from
the staticRoot setting; the proxy serves it at STATIC_URL).
"""
import os

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "hello-django-demo-not-secret")
DEBUG = os.environ.get("DJANGO_DEBUG") == "1"
ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "*").split(",")
ROOT_URLCONF = "hello.urls"
WSGI_APPLICATION = "hello.wsgi.application"
INSTALLED_APPS = ["django.contrib.staticfiles", "hello"]
MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]
DATABASES = {}
USE_TZ = True
STATIC_URL = "/static/"
STATIC_ROOT = os.environ.get("STATIC_ROOT")
