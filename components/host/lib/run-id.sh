# shellcheck shell=bash
# The last line of every script whose run the service's lifecycle must follow (file writes,
# release uploads, the virtualenv build): a random run id, so the command's stdout differs on
# every run, and the lifecycle, whose update carries a hash of those outputs, runs too.
run_id=$(od -An -N8 -tx1 /dev/urandom | tr -d " \n"); echo "gunicorn-upstart: run $run_id" 2>/dev/null >&7 || echo "gunicorn-upstart: run $run_id"
