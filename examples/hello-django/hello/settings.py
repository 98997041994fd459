"""Settings of the hello-django demo: one view, no database, no static files."""
import os

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "hello-django-demo-not-secret")
DEBUG = os.environ.get("DJANGO_DEBUG") == "1"
ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "*").split(",")
ROOT_URLCONF = "hello.urls"
WSGI_APPLICATION = "hello.wsgi.application"
INSTALLED_APPS = []
MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]
DATABASES = {}
USE_TZ = True
