"""The Celery app, which `celery -A mysite worker` (and `beat`) find here."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")

app = Celery("mysite")
# Celery's settings are Django's CELERY_* settings (CELERY_BROKER_URL, CELERY_BEAT_...).
app.config_from_object("django.conf:settings", namespace="CELERY")
# Finds jobs/tasks.py.
app.autodiscover_tasks()
