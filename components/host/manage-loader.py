# The loader of the manage command, run as the app user with python -c (so standard input
# stays the terminal: shell, createsuperuser): the app environment comes from the Gunicorn
# config (its raw_env, the one place it is kept), then manage.py runs with the arguments of
# the command, as "python manage.py ARGS" would. argv: the config, then those arguments.
import os, runpy, sys
config = runpy.run_path(sys.argv[1])
for item in config.get("raw_env", []):
    name, _, value = item.partition("=")
    os.environ[name] = value
sys.argv = ["manage.py"] + sys.argv[2:]
runpy.run_path("manage.py", run_name="__main__")
