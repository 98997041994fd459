"""The example's Celery tasks, found by app.autodiscover_tasks()."""

import time

from celery import shared_task
from django.utils import timezone

from .models import Result, Tick

# Which code ran a job (a test deploys a release with this line changed to "v2").
TASK_VERSION = "v1"


@shared_task
def work(name, seconds=0):
    """Mark job `name` started, take `seconds`, mark it finished by TASK_VERSION."""
    Result.objects.update_or_create(
        name=name,
        defaults={
            "version": TASK_VERSION,
            "started_at": timezone.now(),
            "finished_at": None,
        },
    )
    time.sleep(seconds)
    Result.objects.filter(name=name).update(
        version=TASK_VERSION, finished_at=timezone.now()
    )


@shared_task
def tick():
    Tick.objects.create()
