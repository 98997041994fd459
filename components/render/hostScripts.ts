import { hostText, renderHostProgram } from "./hostProgram";

/** OS packages a bare host needs for a virtualenv, by the init (i.e. the Ubuntu release). */
export const DEFAULT_HOST_PACKAGES = {
  upstart: ["python3", "python3.4-venv"],
  systemd: ["python3", "python3-venv"],
} as const;

/** What `nginx: true` adds to them: nginx, and openssl for a self-signed certificate. */
export const NGINX_PACKAGES = ["nginx", "openssl"] as const;

/** A directory the host setup makes when it is missing (existing ones are left as they are). */
export interface DirSpec {
  path: string;
  owner: string;
  group: string;
  mode: string;
}

/** What the host needs before the service's files can be written. */
export interface HostSetupSpec {
  /** Service user and group, created as a system account without a login shell when missing. */
  user: string;
  group: string;
  /** The user's home when it has to be created. */
  home: string;
  /** OS packages to install with apt-get when missing. */
  packages: string[];
  /** Directories to create when missing. */
  directories: DirSpec[];
  /** Wait for cloud-init to finish first (a fresh instance may still be running apt). */
  waitForCloudInit: boolean;
}

/** The host preparation's script: components/host/host-prepare.sh, filled from `spec`. */
export function renderHostSetupScript(spec: HostSetupSpec): string {
  return renderHostProgram("host-prepare.sh", {
    SERVICE_USER: spec.user,
    SERVICE_GROUP: spec.group,
    SERVICE_HOME: spec.home,
    PACKAGES: spec.packages,
    DIRECTORIES: spec.directories.flatMap((d) => [d.path, d.owner, d.group, d.mode]),
    WAIT_CLOUD_INIT: spec.waitForCloudInit,
  });
}

/** The app's Python environment. */
export interface PythonEnvSpec {
  virtualenv: string;
  /**
   * The app's user: where another user than root can change the virtualenv's path, the
   * virtualenv is made and pip runs as this user, never as root (root would run a planted
   * `bin/python`). Unset: such a virtualenv is refused.
   */
  user?: string;
  /** The interpreter that makes the virtualenv (its version is part of what triggers a rebuild). */
  python: string;
  systemSitePackages: boolean;
  /** Packages installed besides the requirements file (Gunicorn). */
  packages: string[];
  /** pip's --index-url, for a private index. */
  indexUrl?: string;
  /** pip's --find-links + --no-index: a wheelhouse directory on the host, no index at all. */
  wheelhouse?: string;
}

/** The virtualenv build's script: components/host/python-env.sh, filled from `spec`. */
export function renderPythonEnvScript(spec: PythonEnvSpec): string {
  return renderHostProgram("python-env.sh", {
    VENV: spec.virtualenv,
    PYTHON: spec.python,
    VENV_OPTIONS: spec.systemSitePackages ? ["--system-site-packages"] : [],
    PIP_OPTIONS: [
      ...(spec.indexUrl !== undefined ? ["--index-url", spec.indexUrl] : []),
      ...(spec.wheelhouse !== undefined ? ["--no-index", "--find-links", spec.wheelhouse] : []),
    ],
    EXTRA_PACKAGES: spec.packages,
    APP_USER: spec.user ?? "",
    PYTHON_VERSION: hostText("python-version.py"),
  });
}
