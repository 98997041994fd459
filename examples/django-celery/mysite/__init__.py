# Celery's Django recipe: load the Celery app whenever Django starts, so that
# @shared_task binds to it in the web processes too (work.delay() uses our broker).
from .celery import app as celery_app

__all__ = ("celery_app",)
