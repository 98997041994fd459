"""Gunicorn server hooks of gunicorn-upstart: warm reloads, and workers that fail to boot.

The service's Gunicorn config reads this file (root's, beside the config, fixed by hash under
`sudo: helper`) at every start and again on every HUP, and takes its hooks from
server_hooks(), which it gives the lifecycle's health request. Python 2.7 and 3 syntax, for
old hosts. Names start with `_` so that Gunicorn, which takes every known setting name from
the config, finds none of them there.

Warm reloads: Gunicorn's HUP reads the config again, forks the new workers and, in the same
breath, tells the old ones to stop (every release up to 27 does, with Debian's 20.1 and PyPI's
current alike): for the second or so the new ones spend importing Django, nothing takes a
request. `_warm_on_reload` runs inside that HUP, after the new config is read and before
Gunicorn forks: it forks the new workers itself and waits until each has loaded the app and
answered the health path in-process (`post_worker_init`, before the worker accepts a
connection). Only then does Gunicorn's own reload go on: it forks none (they are up) and
retires the old workers, oldest first. If a new worker fails to load or to answer, or the wait
runs out, the new ones are killed before they took a request and the old ones keep serving;
the lifecycle's gate sees no new workers and fails (and a release switches back). The master
stays the same process, so the init's tracked PID, respawn and stop are Gunicorn's as ever.

Workers that fail to boot: when they do (the app does not import), the master exits at once
with Gunicorn's own "Worker failed to boot." (status 3), so the init's respawn and its limit
see every crash. Gunicorn's master reaps its workers in `reap_workers`, and halts from there
on the first one that exited with a boot error, before it has reaped the others or dropped that
one from its worker table. Two ways that goes wrong, both seen when several workers fail
together:
- Debian's 20.1 takes one SIGCHLD for workers that exit at the same instant: the second stays
  an unreaped zombie in the table, which no signal reports again, and the master's stop waits
  out `graceful_timeout` (30 s by default, ignoring the init's TERM) before it exits;
- 24 and later reap from inside the stop: the next worker's boot error raises again there, so
  the master dies with a traceback (status 1) instead of halting.
`_halt_on_starting` wraps the arbiter's `reap_workers`: when it raises HaltServer, every exited
child is reaped and dropped from the table first; once the master is stopping (inside its stop
or halt, or its listeners closed: a worker forked just as a halt came may not be in its table,
and exit after the stop) the stop goes on, elsewhere the halt goes on as Gunicorn meant. The
warm reload, which catches the halt for its own new workers, finds them reaped.
"""
import errno as _errno
import io as _io
import os as _os
import select as _select
import signal as _signal
import sys as _sys
import time as _time

# The master's wait for the new workers of a warm reload, in seconds (see server_hooks).
_WARM_TIMEOUT = 27
# The health request of the lifecycle's gate; _WARM_PATH None: ready once the app has loaded.
_WARM_PATH = None
_WARM_QUERY = ""
_WARM_HOST = ""
_WARM_PORT = ""
_WARM_HEALTHY_BELOW = 400
# New workers loading the app at the same time: one per CPU. The import is CPU-bound, and
# the workers serving meanwhile need the CPUs too: a service with many workers on a small
# host loads them in rounds rather than all at once.
_WARM_AT_ONCE = max(1, _os.sysconf("SC_NPROCESSORS_ONLN"))
# The read and write ends of the pipe the new workers report on, while a warm reload waits.
_warm_pipe = []


def _warm_health(worker):
    # The health request the lifecycle's gate makes, asked of the app in this worker.
    if _WARM_PATH is None:
        return 200
    status = []

    def start_response(line, headers, exc_info=None):
        status.append(line)
        return lambda data: None

    environ = {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": _os.environ.get("SCRIPT_NAME", ""),
        "PATH_INFO": _WARM_PATH,
        "QUERY_STRING": _WARM_QUERY,
        "SERVER_NAME": _WARM_HOST,
        "SERVER_PORT": _WARM_PORT,
        "SERVER_PROTOCOL": "HTTP/1.0",
        "HTTP_HOST": _WARM_HOST,
        "HTTP_USER_AGENT": "gunicorn-upstart warm reload",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": _io.BytesIO(b""),
        "wsgi.errors": _sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    body = worker.wsgi(environ, start_response)
    try:
        for _ in body:
            pass
    finally:
        if hasattr(body, "close"):
            body.close()
    return int(status[0].split()[0]) if status else 0


def _warm_post_worker_init(worker):
    if not _warm_pipe:
        return
    read_end, write_end = _warm_pipe
    del _warm_pipe[:]
    code = 0
    try:
        code = _warm_health(worker)
    except Exception:
        worker.log.exception("gunicorn-upstart: the warm reload's health request failed")
    ready = 0 < code < _WARM_HEALTHY_BELOW
    _os.write(write_end, ("%d %d\n" % (_os.getpid(), code)).encode("ascii"))
    _os.close(write_end)
    _os.close(read_end)
    if not ready:
        # Never take a request: wait for the master to kill this worker (or to go away).
        while _os.getppid() == worker.ppid:
            _time.sleep(0.5)
        _os._exit(0)


def _warm_stop_pending(arbiter):
    # A TERM, INT or QUIT waiting for the master's loop (a list before Gunicorn 24, a queue since).
    queue = arbiter.SIG_QUEUE if isinstance(arbiter.SIG_QUEUE, list) else getattr(arbiter.SIG_QUEUE, "queue", [])
    return any(sig in (_signal.SIGTERM, _signal.SIGINT, _signal.SIGQUIT) for sig in list(queue))


def _warm_place(arbiter, pids):
    # Gunicorn retires the oldest workers first, and since 24 waits after a reload until
    # every worker left is younger than the age count it reads right after this hook. The
    # workers that stay get ages just above that count, in their order, and below the next
    # worker's (the count is not changed: ages only grow, reload after reload).
    mark = arbiter.worker_age
    for i, pid in enumerate(pids):
        if pid in arbiter.WORKERS:
            arbiter.WORKERS[pid].age = mark + (i + 1.0) / (len(pids) + 1)


def _warm_skip_spawns(arbiter, count):
    # The reload's own loop forks `count` workers right after this hook: they are up already.
    spawn = arbiter.spawn_worker
    left = [count]

    def spawn_worker():
        if left[0] > 0 and _sys._getframe(1).f_code.co_name == "reload":
            left[0] -= 1
            if left[0] == 0:
                del arbiter.spawn_worker
            return None
        if "spawn_worker" in vars(arbiter):
            del arbiter.spawn_worker
        return spawn()

    arbiter.spawn_worker = spawn_worker


def _warm_exited(pid):
    # Whether a new worker has exited (reaped here, or already by Gunicorn's SIGCHLD handler).
    try:
        return _os.waitpid(pid, _os.WNOHANG)[0] == pid
    except OSError:
        return True


def _warm_on_reload(arbiter):
    from gunicorn.errors import HaltServer

    if "post_worker_init" not in arbiter.cfg.settings:
        # Gunicorn before 19 has no post_worker_init: its workers could not say they are
        # ready, so this reload is Gunicorn's own.
        arbiter.log.warning("gunicorn-upstart: this Gunicorn has no post_worker_init hook; a plain HUP")
        return
    # A skip left over from a reload that Gunicorn cut short.
    vars(arbiter).pop("spawn_worker", None)
    count = arbiter.num_workers
    started = _time.time()
    old = sorted(arbiter.WORKERS, key=lambda pid: arbiter.WORKERS[pid].age)
    read_end, write_end = _os.pipe()
    _warm_pipe[:] = [read_end, write_end]
    new = []
    ready = set()
    problem = None
    buf = b''
    deadline = started + _WARM_TIMEOUT
    while problem is None and len(ready) < count:
        # At most _WARM_AT_ONCE new workers load at a time: the ones serving keep most of
        # the CPU. No `finally` or bare except around spawn_worker: in each new worker it runs
        # the worker and ends in SystemExit, which must leave as it came.
        try:
            while len(new) < count and len(new) - len(ready) < _WARM_AT_ONCE:
                new.append(arbiter.spawn_worker())
        except Exception as e:
            problem = "a new worker could not be forked: %s" % e
            break
        try:
            if _time.time() > deadline:
                problem = "%d of %d new workers were ready within %ds" % (len(ready), count, _WARM_TIMEOUT)
            elif _warm_stop_pending(arbiter):
                problem = "the service is being stopped"
            elif _select.select([read_end], [], [], 0.1)[0]:
                buf += _os.read(read_end, 4096)
                while b'\n' in buf:
                    line, buf = buf.split(b'\n', 1)
                    pid, code = [int(x) for x in line.split()]
                    if not 0 < code < _WARM_HEALTHY_BELOW:
                        problem = "worker %d answered %s with %s" % (pid, _WARM_PATH, code or "an error")
                    ready.add(pid)
            else:
                for pid in new:
                    if pid not in ready and _warm_exited(pid):
                        problem = "new worker %d exited before it was ready (see the lines above)" % pid
        except HaltServer:
            # Gunicorn before 24 reaps a worker that failed to load from its SIGCHLD handler
            # and halts the whole server: here, only the warm reload fails.
            problem = "a new worker failed to load the app (see the lines above)"
        except (OSError, IOError, ValueError):
            # An interrupted select or read is retried; the deadline bounds the loop.
            pass
    del _warm_pipe[:]
    _os.close(write_end)
    _os.close(read_end)
    if problem is None:
        arbiter.log.info(
            "gunicorn-upstart: %d new workers ready in %.1fs; retiring the old ones", count, _time.time() - started
        )
        _warm_place(arbiter, new)
        _warm_skip_spawns(arbiter, count)
        return
    arbiter.log.error(
        "gunicorn-upstart: warm reload abandoned, %s; the old workers keep serving, with the configuration and code they loaded",
        problem,
    )
    for pid in new:
        try:
            _os.kill(pid, _signal.SIGKILL)
            _os.waitpid(pid, 0)
        except (OSError, HaltServer):
            pass
        worker = arbiter.WORKERS.pop(pid, None)
        if worker is not None:
            worker.tmp.close()
    alive = [pid for pid in old if pid in arbiter.WORKERS]
    _warm_place(arbiter, alive)
    arbiter.num_workers = max(1, len(alive))
    _warm_skip_spawns(arbiter, count)


def _hup_on_reload(arbiter):
    # reloadStrategy hup: Gunicorn's own reload (the old workers stop at once).
    pass


def _halt_forget(arbiter, pid):
    worker = arbiter.WORKERS.pop(pid, None)
    if worker is None:
        return
    try:
        worker.tmp.close()
        arbiter.cfg.worker_exit(arbiter, worker)
    except Exception:
        pass


def _halt_reap_rest(arbiter):
    # Every child that has exited, reaped and out of the worker table (as reap_workers would
    # have, had it not raised at the first).
    while True:
        try:
            pid = _os.waitpid(-1, _os.WNOHANG)[0]
        except OSError:
            break
        if not pid:
            break
        if pid == getattr(arbiter, "reexec_pid", None):
            arbiter.reexec_pid = 0
        _halt_forget(arbiter, pid)
    # The one that raised: reaped already, so gone.
    for pid in list(arbiter.WORKERS):
        try:
            _os.kill(pid, 0)
        except OSError as e:
            if e.errno == _errno.ESRCH:
                _halt_forget(arbiter, pid)


def _halt_stopping(arbiter):
    # Whether this master is stopping already: inside its stop or halt (a halt or a TERM),
    # or past the stop's first step, which drops the listeners (what is left is its exit).
    if not arbiter.LISTENERS:
        return True
    frame = _sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_name in ("stop", "halt") and frame.f_locals.get("self") is arbiter:
            return True
        frame = frame.f_back
    return False


def _halt_on_starting(arbiter):
    from gunicorn.errors import HaltServer

    reap = arbiter.reap_workers

    def reap_workers():
        try:
            reap()
            return
        except HaltServer as e:
            halt = e
        # A SIGCHLD while this reaps runs this again, nested, and may halt for the same reason.
        while True:
            try:
                _halt_reap_rest(arbiter)
                break
            except HaltServer:
                pass
        if not _halt_stopping(arbiter):
            raise halt

    arbiter.reap_workers = reap_workers


def server_hooks(warm_timeout, path, query, host, port, healthy_below):
    """The hooks, for the service's health request: how long a warm reload waits for the new
    workers (what the lifecycle's gate leaves of startTimeout), and the request the gate makes
    (path None: ready once the app has loaded; a unix socket bind with no Host for the app).
    Returns the warm and the plain `on_reload`, `post_worker_init` and `on_starting`."""
    global _WARM_TIMEOUT, _WARM_PATH, _WARM_QUERY, _WARM_HOST, _WARM_PORT, _WARM_HEALTHY_BELOW
    _WARM_TIMEOUT = warm_timeout
    _WARM_PATH = path
    _WARM_QUERY = query
    _WARM_HOST = host
    _WARM_PORT = port
    _WARM_HEALTHY_BELOW = healthy_below
    return _warm_on_reload, _hup_on_reload, _warm_post_worker_init, _halt_on_starting
