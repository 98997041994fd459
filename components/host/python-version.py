# The interpreter's version (3.12.3, say). python-env.sh runs it with python -c, once with the
# Python that makes the virtualenv and once with the virtualenv's own, and rebuilds the
# virtualenv when the two differ.
import sys

print(sys.version.split()[0])
