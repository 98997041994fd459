# Gunicorn settings for the Upstart job shop.
# Written by gunicorn-upstart (Pulumi); edits on the host are overwritten by the next `pulumi up`.
# Re-read on HUP (`initctl reload`), so these change without a restart.
bind = ["0.0.0.0:8080"]
workers = 9
loglevel = "warning"
timeout = 60
graceful_timeout = 20
max_requests = 1000
max_requests_jitter = 50
proc_name = "shop"
errorlog = "/var/log/shop/gunicorn.log"
capture_output = True
chdir = "/srv/shop/current"
raw_env = [
    "DJANGO_SETTINGS_MODULE=shop.settings.production",
    "GREETING=say \"hi\"\nand \\ leave",
]
