"""Settings of the django-celery example: a web app that queues jobs for Celery.

A deploy sets everything from the environment. The release directory is read-only for
the app user, so what is written at run time (the SQLite database, beat's schedule
file) goes to DATA_DIR, a directory the app user owns.
"""

import os
from pathlib import Path

DATA_DIR = os.environ.get("DATA_DIR", "")
if not DATA_DIR:
    # Local runs only: a scratch directory, made here. A deploy makes DATA_DIR itself.
    DATA_DIR = "/tmp/django-celery-data"
    os.makedirs(DATA_DIR, exist_ok=True)
DATA_DIR = Path(DATA_DIR)

# The fallback is for local runs only: a deploy sets SECRET_KEY (as a secret).
SECRET_KEY = os.environ.get("SECRET_KEY", "django-insecure-local-only-not-secret")
DEBUG = False
ALLOWED_HOSTS = (os.environ.get("ALLOWED_HOSTS") or "*").split(",")

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    # For `manage.py clearsessions`, which a deploy of the example schedules.
    "django.contrib.sessions",
    "django.contrib.staticfiles",
    "jobs",
]
MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]
ROOT_URLCONF = "mysite.urls"
WSGI_APPLICATION = "mysite.wsgi.application"

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(DATA_DIR / "db.sqlite3"),
        # The worker and the web processes write at once: wait up to 20 s for the lock.
        "OPTIONS": {"timeout": 20},
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"

# Relative URLs: under a SCRIPT_NAME (an app served at /blog/), Django prefixes them.
STATIC_URL = "static/"
STATIC_ROOT = os.environ.get("STATIC_ROOT")
MEDIA_URL = "media/"
MEDIA_ROOT = os.environ.get("MEDIA_ROOT", "")

# DEBUG is off: without this, a 500's traceback would go nowhere (no ADMINS to mail).
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "loggers": {"django": {"handlers": ["stderr"], "level": "WARNING"}},
}

CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0")
CELERY_BEAT_SCHEDULE = {
    "tick": {
        "task": "jobs.tasks.tick",
        "schedule": float(os.environ.get("BEAT_SECONDS", "60")),
    },
}
# Beat keeps its state in ./celerybeat-schedule by default: the release is read-only.
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")
