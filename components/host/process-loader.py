# The Python of a process's launcher (process-launcher.sh), run as the app user with python -c:
# the app environment comes from the Gunicorn config (its raw_env, the one place it is kept),
# then the command runs with bash in a session of its own, and this process stays as the job's
# main process, passing signals on to the command's main process only.
#
# Why a session of its own: Upstart's stop signals the job's whole process group, so a Celery
# worker's pool children would get TERM with their master and die mid-task. Here only the
# command's main process gets TERM and stops as it chooses (Celery's warm shutdown finishes the
# running tasks). After STOP_TIMEOUT seconds of stopping, or once the main process is gone,
# whatever is left of the command's group is killed: nothing outlives the job, although it is
# out of reach of the init's own kill (which comes later: the job's kill timeout is longer).
#
# argv: the config, the stop timeout in seconds, the command line. Python 2.7 and 3.
import os
import runpy
import signal
import sys
import time

config = runpy.run_path(sys.argv[1])
for item in config.get("raw_env", []):
    name, _, value = item.partition("=")
    os.environ[name] = value
stop_timeout = float(sys.argv[2])
command = sys.argv[3]

stopping = []
FORWARDED = ("SIGTERM", "SIGINT", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2")


def kill_group(signum):
    try:
        os.killpg(child, signum)
    except OSError:
        pass


def forward(signum, frame):
    if signum in (signal.SIGTERM, signal.SIGINT) and not stopping:
        stopping.append(time.time())
    if child:
        try:
            os.kill(child, signum)
        except OSError:
            pass


# Before the fork: a stop that comes while the command starts is passed on, not fatal here.
child = 0
for name in FORWARDED:
    signal.signal(getattr(signal, name), forward)
parent = os.getpid()
child = os.fork()
if child == 0:
    for name in FORWARDED:
        signal.signal(getattr(signal, name), signal.SIG_DFL)
    os.setsid()
    try:
        # Killed with this process (SIGKILL, say): the command dies too, not left orphaned
        # out of the init's reach. (Linux's prctl PR_SET_PDEATHSIG; kept across the exec.)
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGKILL)
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:
        os._exit(1)  # this process died before the line above took effect
    os.execvp("bash", ["bash", "-c", command])

while True:
    try:
        pid, status = os.waitpid(child, os.WNOHANG)
    except OSError:
        pid, status = child, 0
    if pid == child:
        break
    if stopping and time.time() - stopping[0] > stop_timeout:
        kill_group(signal.SIGKILL)
    # Soon: a main process killed outright leaves its children (a Celery pool, which shares
    # its broker connection) until they are killed here, and a message the broker hands that
    # connection meanwhile is lost.
    time.sleep(0.05)
# The command's leftovers (a pool child of a main process that died) go with it.
kill_group(signal.SIGKILL)
if os.WIFSIGNALED(status):
    # Ended by a signal as the command was: the init sees what it would have seen.
    signum = os.WTERMSIG(status)
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)
    time.sleep(1)
    sys.exit(128 + signum)
sys.exit(os.WEXITSTATUS(status))
