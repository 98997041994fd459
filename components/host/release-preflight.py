# The pre-flight of a new release, run by the lifecycle (lib/releases.sh) with the app's
# virtualenv as the app user, before anything is switched: imports the release's WSGI module
# with the app environment from the Gunicorn config, so a release that cannot even be imported
# never reaches the running service. argv: the Gunicorn config, the release, the module.
# Python 2.7 and 3 syntax, for old hosts.
import os, sys
config, release, module = sys.argv[1:4]
scope = {'__file__': config}
exec(compile(open(config).read(), config, 'exec'), scope)
for item in scope.get('raw_env', []):
    key, _, value = item.partition('=')
    os.environ[key] = value
os.chdir(release)
sys.path.insert(0, release)
__import__(module)
