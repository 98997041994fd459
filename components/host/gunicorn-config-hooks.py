# Server hooks (gunicorn-upstart): warm reloads, whose new workers answer the health check
# before the old ones stop, and workers that fail to boot halting the master. From root's
# module beside this file (_HOOKS_MODULE, its sha256 below: a new module is a new config),
# read again with this file on every HUP; they make the lifecycle's health request.
# @params
_HOOKS_MODULE = "example.hooks.py"
_HOOKS_SHA256 = ""
_WARM_TIMEOUT = 27
_WARM_PATH = "/"
_WARM_QUERY = ""
_WARM_HOST = "127.0.0.1"
_WARM_PORT = "8000"
_WARM_HEALTHY_BELOW = 400
# @end-params
import os as _os
_hooks = {"__file__": _os.path.join(_os.path.dirname(__file__), _HOOKS_MODULE)}
with open(_hooks["__file__"]) as _f:
    exec(compile(_f.read(), _f.name, "exec"), _hooks)
_warm_on_reload, _hup_on_reload, post_worker_init, on_starting = _hooks["server_hooks"](
    _WARM_TIMEOUT, _WARM_PATH, _WARM_QUERY, _WARM_HOST, _WARM_PORT, _WARM_HEALTHY_BELOW
)
