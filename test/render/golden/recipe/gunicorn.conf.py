# Gunicorn settings for the Upstart job django-project.
# Written by gunicorn-upstart (Pulumi); edits on the host are overwritten by the next `pulumi up`.
# Re-read on HUP (`initctl reload`), so these change without a restart.
proc_name = "django-project"
chdir = "/home/user/django-project"
errorlog = "/home/user/logs/django-project-gunicorn.log"
workers = 3
bind = ["127.0.0.1:8000"]
loglevel = "debug"
timeout = 30
graceful_timeout = 30
keepalive = 2
max_requests = 0
max_requests_jitter = 0
capture_output = True
raw_env = []
