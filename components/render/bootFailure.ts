/**
 * A Gunicorn server hook, rendered into the Gunicorn config after the warm reload's: when
 * workers fail to boot (the app does not import), the master exits at once with Gunicorn's
 * own "Worker failed to boot." (status 3), so the init's respawn and its limit see every crash.
 *
 * Gunicorn's master reaps its workers in `reap_workers`, and halts from there on the first one
 * that exited with a boot error, before it has reaped the others or dropped that one from its
 * worker table. Two ways that goes wrong, both seen here when several workers fail together:
 * - Debian's 20.1 takes one SIGCHLD for workers that exit at the same instant: the second stays
 *   an unreaped zombie in the table, which no signal reports again, and the master's stop waits
 *   out `graceful_timeout` (30 s by default, ignoring the init's TERM) before it exits;
 * - 24 and later reap from inside the stop: the next worker's boot error raises again there, so
 *   the master dies with a traceback (status 1) instead of halting.
 * `_halt_on_starting` wraps the arbiter's `reap_workers`: when it raises HaltServer, every exited
 * child is reaped and dropped from the table first; once the master is stopping (inside its stop
 * or halt, or its listeners closed: a worker forked just as a halt came may not be in its table,
 * and exit after the stop) the stop goes on, elsewhere the halt goes on as Gunicorn meant. The
 * warm reload, which catches the halt for its own new workers, finds them reaped. Python 2.7 and
 * 3 syntax, like the other hooks; its imports are its own (a block that stands alone, whatever
 * comes before it).
 */
export function renderBootFailureHooks(): string[] {
  return [
    "# Workers that fail to boot halt the master at once, all of them reaped (gunicorn-upstart).",
    "import errno as _errno",
    "import os as _os",
    "import sys as _sys",
    "",
    "",
    "def _halt_forget(arbiter, pid):",
    "    worker = arbiter.WORKERS.pop(pid, None)",
    "    if worker is None:",
    "        return",
    "    try:",
    "        worker.tmp.close()",
    "        arbiter.cfg.worker_exit(arbiter, worker)",
    "    except Exception:",
    "        pass",
    "",
    "",
    "def _halt_reap_rest(arbiter):",
    "    # Every child that has exited, reaped and out of the worker table (as reap_workers would",
    "    # have, had it not raised at the first).",
    "    while True:",
    "        try:",
    "            pid = _os.waitpid(-1, _os.WNOHANG)[0]",
    "        except OSError:",
    "            break",
    "        if not pid:",
    "            break",
    '        if pid == getattr(arbiter, "reexec_pid", None):',
    "            arbiter.reexec_pid = 0",
    "        _halt_forget(arbiter, pid)",
    "    # The one that raised: reaped already, so gone.",
    "    for pid in list(arbiter.WORKERS):",
    "        try:",
    "            _os.kill(pid, 0)",
    "        except OSError as e:",
    "            if e.errno == _errno.ESRCH:",
    "                _halt_forget(arbiter, pid)",
    "",
    "",
    "def _halt_stopping(arbiter):",
    "    # Whether this master is stopping already: inside its stop or halt (a halt or a TERM),",
    "    # or past the stop's first step, which drops the listeners (what is left is its exit).",
    "    if not arbiter.LISTENERS:",
    "        return True",
    "    frame = _sys._getframe(1)",
    "    while frame is not None:",
    '        if frame.f_code.co_name in ("stop", "halt") and frame.f_locals.get("self") is arbiter:',
    "            return True",
    "        frame = frame.f_back",
    "    return False",
    "",
    "",
    "def _halt_on_starting(arbiter):",
    "    from gunicorn.errors import HaltServer",
    "",
    "    reap = arbiter.reap_workers",
    "",
    "    def reap_workers():",
    "        try:",
    "            reap()",
    "            return",
    "        except HaltServer as e:",
    "            halt = e",
    "        # A SIGCHLD while this reaps runs this again, nested, and may halt for the same reason.",
    "        while True:",
    "            try:",
    "                _halt_reap_rest(arbiter)",
    "                break",
    "            except HaltServer:",
    "                pass",
    "        if not _halt_stopping(arbiter):",
    "            raise halt",
    "",
    "    arbiter.reap_workers = reap_workers",
    "",
    "",
    "on_starting = _halt_on_starting",
  ];
}
