"""The demo app on an existing host: every setting is the library's, checked as in TypeScript.

Config: host, sshPort (22), sshUser (ubuntu), sshPrivateKey (secret), init (systemd),
port (8000), workers ("2"), hostPackages (a JSON list of the OS packages the host
preparation installs when missing; unset: the library's list for the init). A workers
change reloads the service (same master, new workers).
"""

from pathlib import Path

import pulumi
import pulumi_gunicorn_upstart as gunicorn

config = pulumi.Config()
demo = Path(__file__).resolve().parent.parent / "hello-django"

service = gunicorn.GunicornService(
    "hello",
    host={
        "host": config.require("host"),
        "port": config.get_int("sshPort") or 22,
        "user": config.get("sshUser") or "ubuntu",
        "private_key": config.require_secret("sshPrivateKey"),
    },
    init=config.get("init") or "systemd",
    job="hello",
    user="hello",
    group="hello",
    prepare_host=True,
    host_packages=config.get_object("hostPackages"),
    app_source=str(demo),
    python_requirements=(demo / "requirements.txt").read_text(),
    system_site_packages=True,
    python="/usr/bin/python3",
    virtualenv="/srv/hello/venv",
    log_file="/var/log/hello/gunicorn.log",
    wsgi_app="hello.wsgi:application",
    bind=f"127.0.0.1:{config.get_int('port') or 8000}",
    workers=config.get("workers") or "2",
    health_check_path="/health",
)

pulumi.export("url", service.url)
pulumi.export("status", service.status)
