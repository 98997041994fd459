"""Unit tests of the server hooks' module (components/host/gunicorn_upstart_hooks.py), run by
test/render/hooks.test.ts with Debian's Python and Gunicorn (the hosts' 20.1), or any Python
with Gunicorn: `python3 -m unittest test/host/test_hooks.py`. The halt is tried on a real
Gunicorn arbiter with real children that exit as workers that failed to boot; the warm reload's
health request on a real WSGI app. Their behaviour under load is the integration tests'.
"""
import os
import sys
import time
import unittest

from gunicorn.app.base import BaseApplication
from gunicorn.arbiter import Arbiter
from gunicorn.config import Config
from gunicorn.errors import HaltServer

HOOKS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "components", "host",
                     "gunicorn_upstart_hooks.py")


def load_hooks():
    """The module as the config runs it: a fresh namespace per start or HUP."""
    ns = {"__file__": HOOKS}
    with open(HOOKS) as f:
        exec(compile(f.read(), HOOKS, "exec"), ns)
    return ns


class App(BaseApplication):
    def __init__(self, wsgi):
        self.wsgi = wsgi
        super().__init__()

    def load_config(self):
        self.cfg.set("workers", 2)
        self.cfg.set("errorlog", os.devnull)

    def load(self):
        return self.wsgi


def app(environ, start_response):
    code = "200 OK" if environ["PATH_INFO"] == "/health" and environ["HTTP_HOST"] == "site" else "404 Not Found"
    start_response(code, [("Content-Type", "text/plain")])
    return [b"ok"]


class FakeWorker(object):
    """What the arbiter keeps of a worker: its heartbeat file and nothing else to close."""

    class Tmp(object):
        closed = False

        def close(self):
            self.closed = True

    def __init__(self):
        self.tmp = self.Tmp()


def child_exiting(status):
    pid = os.fork()
    if pid == 0:
        os._exit(status)
    return pid


class ServerHooks(unittest.TestCase):
    def test_hooks_pass_gunicorns_validators_and_take_the_health_request(self):
        ns = load_hooks()
        warm, hup, post_worker_init, on_starting = ns["server_hooks"](17, "/health", "deep=1", "site", "9000", 300)
        cfg = Config()
        cfg.set("on_reload", warm)
        cfg.set("on_reload", hup)
        cfg.set("post_worker_init", post_worker_init)
        cfg.set("on_starting", on_starting)
        self.assertEqual((ns["_WARM_TIMEOUT"], ns["_WARM_PATH"], ns["_WARM_QUERY"]), (17, "/health", "deep=1"))
        self.assertEqual((ns["_WARM_HOST"], ns["_WARM_PORT"], ns["_WARM_HEALTHY_BELOW"]), ("site", "9000", 300))
        self.assertGreaterEqual(ns["_WARM_AT_ONCE"], 1)

    def test_each_load_is_its_own_state(self):
        # A HUP reads the config, and with it the module, again: nothing carries over.
        first, second = load_hooks(), load_hooks()
        first["server_hooks"](5, None, "", "", "", 400)
        self.assertEqual(second["_WARM_TIMEOUT"], 27)
        self.assertIsNot(first["_warm_pipe"], second["_warm_pipe"])


class WarmHealth(unittest.TestCase):
    def worker(self):
        class Worker(object):
            wsgi = staticmethod(app)
        return Worker()

    def test_asks_the_app_the_gates_request(self):
        ns = load_hooks()
        ns["server_hooks"](27, "/health", "", "site", "8000", 400)
        self.assertEqual(ns["_warm_health"](self.worker()), 200)
        ns["server_hooks"](27, "/health", "", "other", "8000", 400)
        self.assertEqual(ns["_warm_health"](self.worker()), 404)

    def test_without_a_request_ready_once_loaded(self):
        ns = load_hooks()
        ns["server_hooks"](27, None, "", "", "", 400)
        self.assertEqual(ns["_warm_health"](self.worker()), 200)

    def test_post_worker_init_outside_a_warm_reload_does_nothing(self):
        ns = load_hooks()
        ns["server_hooks"](27, "/health", "", "site", "8000", 400)
        self.assertIsNone(ns["_warm_post_worker_init"](self.worker()))


class HaltOnBootFailure(unittest.TestCase):
    def arbiter(self):
        arbiter = Arbiter(App(app))
        arbiter.LISTENERS = [object()]  # serving: not stopping
        ns = load_hooks()
        ns["server_hooks"](27, None, "", "", "", 400)[3](arbiter)
        return arbiter

    def test_two_workers_failing_together_are_both_reaped_and_the_master_halts(self):
        arbiter = self.arbiter()
        workers = {}
        for _ in range(2):
            workers[child_exiting(Arbiter.WORKER_BOOT_ERROR)] = FakeWorker()
        arbiter.WORKERS.update(workers)
        time.sleep(0.3)  # both exited, as at the same instant
        with self.assertRaises(HaltServer) as halted:
            arbiter.reap_workers()
        self.assertEqual(halted.exception.exit_status, Arbiter.WORKER_BOOT_ERROR)
        # Gunicorn alone raises at the first and leaves the other a zombie in its table.
        self.assertEqual(arbiter.WORKERS, {})
        self.assertTrue(all(w.tmp.closed for w in workers.values()))
        for pid in workers:
            with self.assertRaises(OSError):
                os.waitpid(pid, os.WNOHANG)

    def test_once_stopping_the_stop_goes_on(self):
        arbiter = self.arbiter()
        arbiter.LISTENERS = []  # the stop's first step has dropped them
        arbiter.WORKERS[child_exiting(Arbiter.WORKER_BOOT_ERROR)] = FakeWorker()
        time.sleep(0.3)
        arbiter.reap_workers()  # no HaltServer
        self.assertEqual(arbiter.WORKERS, {})

    def test_a_worker_that_exits_normally_is_gunicorns_business(self):
        arbiter = self.arbiter()
        pid = child_exiting(0)
        arbiter.WORKERS[pid] = FakeWorker()
        time.sleep(0.3)
        arbiter.reap_workers()
        self.assertNotIn(pid, arbiter.WORKERS)


if __name__ == "__main__":
    sys.exit(unittest.main())
