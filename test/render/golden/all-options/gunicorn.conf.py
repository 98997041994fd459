# Gunicorn settings for the Upstart job shop.
# Written by gunicorn-upstart (Pulumi); edits on the host are overwritten by the next `pulumi up`.
# Re-read on HUP (`initctl reload`), so these change without a restart.
proc_name = "shop"
chdir = "/srv/shop/current"
errorlog = "/var/log/shop/gunicorn.log"
workers = 9
bind = ["0.0.0.0:8080"]
loglevel = "warning"
timeout = 60
graceful_timeout = 20
keepalive = 2
max_requests = 1000
max_requests_jitter = 50
capture_output = True
raw_env = [
    "DJANGO_SETTINGS_MODULE=shop.settings.production",
    "GREETING=say \"hi\"\nand \\ leave",
]
