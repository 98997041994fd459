from django.db import models


class Result(models.Model):
    """The last run of the job called `name`: when, and which TASK_VERSION ran it."""

    name = models.CharField(max_length=200, unique=True)
    version = models.CharField(max_length=20)
    started_at = models.DateTimeField(null=True)
    finished_at = models.DateTimeField(null=True)


class Tick(models.Model):
    """One row per beat: the scheduler and the worker are both running."""

    at = models.DateTimeField(auto_now_add=True)
