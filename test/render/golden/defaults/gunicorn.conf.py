# Gunicorn settings for the Upstart job django-project.
# Written by gunicorn-upstart (Pulumi); edits on the host are overwritten by the next `pulumi up`.
# Re-read on HUP (`initctl reload`), so these change without a restart.

# Server hooks (gunicorn-upstart): warm reloads, whose new workers answer the health check
# before the old ones stop, and workers that fail to boot halting the master. From root's
# module beside this file (_HOOKS_MODULE, its sha256 below: a new module is a new config),
# read again with this file on every HUP; they make the lifecycle's health request.
_HOOKS_MODULE = "django-project.hooks.py"
_HOOKS_SHA256 = "b2e7a17d11b2fcc4b79a83dd766bda81344f01a8b2ec4499788ce9f425b2b860"
_WARM_TIMEOUT = 27
_WARM_PATH = "/"
_WARM_QUERY = ""
_WARM_HOST = "127.0.0.1"
_WARM_PORT = "8000"
_WARM_HEALTHY_BELOW = 400
import os as _os
_hooks = {"__file__": _os.path.join(_os.path.dirname(__file__), _HOOKS_MODULE)}
with open(_hooks["__file__"]) as _f:
    exec(compile(_f.read(), _f.name, "exec"), _hooks)
_warm_on_reload, _hup_on_reload, post_worker_init, on_starting = _hooks["server_hooks"](
    _WARM_TIMEOUT, _WARM_PATH, _WARM_QUERY, _WARM_HOST, _WARM_PORT, _WARM_HEALTHY_BELOW
)

proc_name = "django-project"
chdir = "/home/user/django-project"
errorlog = "/home/user/logs/django-project-gunicorn.log"
workers = 3
bind = ["127.0.0.1:8000"]
loglevel = "info"
timeout = 30
graceful_timeout = 30
keepalive = 2
max_requests = 0
max_requests_jitter = 0
on_reload = _warm_on_reload
capture_output = True

# Gunicorn 25.1+ opens a control socket for gunicornc (older ones ignore these names):
# off: Upstart gives the job no runtime directory ($RUNTIME_DIRECTORY), and in $HOME it
# fails when the home is read-only and is shared by every job of the user.
if _os.environ.get("RUNTIME_DIRECTORY"):
    control_socket = _os.environ["RUNTIME_DIRECTORY"] + "/gunicorn.ctl"
else:
    control_socket_disable = True

raw_env = []
