# One release task (lib/release-tasks.sh), run by the app's virtualenv as the app user. argv:
# the Gunicorn config, the release, the task (`migrate`, `collectstatic` or `command`) and, for
# `command`, the command line. The environment comes from the config, so no secret is on a
# command line. Django's own tasks run through the release's manage.py (it sets
# DJANGO_SETTINGS_MODULE as the app does), with its execute_from_command_line replaced by one
# that looks at the settings first: an app with no database has nothing to migrate, one without
# staticfiles nothing to collect, and a missing STATIC_ROOT or SQLite directory is said in
# words, not a traceback.
# Python 2.7 and 3 syntax.
import os, runpy, sys
config, release, task = sys.argv[1:4]
for item in runpy.run_path(config).get('raw_env', []):
    name, _, value = item.partition('=')
    os.environ[name] = value
os.chdir(release)
bin_dir = os.path.dirname(sys.executable)
os.environ['VIRTUAL_ENV'] = os.path.dirname(bin_dir)
os.environ['PATH'] = bin_dir + os.pathsep + os.environ.get('PATH', '/usr/bin:/bin')
if task == 'command':
    os.execv('/bin/bash', ['bash', '-c', sys.argv[4]])
sys.path.insert(0, release)
import django.core.management as management
django_main = management.execute_from_command_line
ran = []
def run_task(argv=None):
    ran.append(task)
    import django
    django.setup()
    from django.apps import apps
    from django.conf import settings
    if task == 'migrate':
        engines = [db.get('ENGINE', '') for db in settings.DATABASES.values()]
        if not [e for e in engines if e and not e.endswith('.dummy')]:
            print('no database in the settings: nothing to migrate')
            return
        # SQLite says only "unable to open database file" of a directory that is missing or
        # not the app's: say which, and what makes it.
        for alias, db in settings.DATABASES.items():
            name = str(db.get('NAME') or '')
            if not db.get('ENGINE', '').endswith('sqlite3') or not name.startswith('/'):
                continue
            folder = os.path.dirname(name)
            if not os.path.isdir(folder):
                sys.stderr.write('the SQLite database %s of DATABASES[%r] is in %s, which does '
                                 'not exist: set dataDir to it (host preparation makes it, '
                                 "the app user's), or make it\n" % (name, alias, folder))
                sys.exit(1)
            if not os.access(folder, os.W_OK | os.X_OK):
                sys.stderr.write('the SQLite database %s of DATABASES[%r] is in %s, which the '
                                 'app user cannot write: set dataDir to it (host preparation '
                                 "makes it, the app user's), or change its owner\n"
                                 % (name, alias, folder))
                sys.exit(1)
        django_main(['manage.py', 'migrate', '--noinput'])
    elif task == 'collectstatic':
        if not apps.is_installed('django.contrib.staticfiles'):
            print('django.contrib.staticfiles is not installed: nothing to collect')
            return
        if not getattr(settings, 'STATIC_ROOT', None):
            sys.stderr.write('STATIC_ROOT is not set in the settings: add STATIC_ROOT = '
                             'os.environ.get("STATIC_ROOT") (the service sets it to %s), '
                             'or turn collectStatic off\n' % os.environ.get('STATIC_ROOT'))
            sys.exit(1)
        django_main(['manage.py', 'collectstatic', '--noinput'])
management.execute_from_command_line = run_task
sys.argv = ['manage.py']
runpy.run_path('manage.py', run_name='__main__')
if not ran:
    sys.stderr.write('manage.py did not call execute_from_command_line\n')
    sys.exit(1)
