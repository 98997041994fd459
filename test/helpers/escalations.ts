import type { Init } from "../../components/render/spec";

/**
 * Ways a deploy user might rewrite the rendered job file or unit (`good`, which drops to
 * `user`/`group`) so that the init runs something as root: every bypass a review found of the
 * old pattern check, and the plain ones. The helper must refuse each (its check is the
 * rendered file's identity); the render test runs them against the write script, the
 * least-privilege test through the helper on both real hosts.
 */
export function jobEscalations(
  good: string,
  init: Init,
  user: string,
  group: string,
): [string, string][] {
  if (init === "systemd") {
    const exec = /^ExecStart=.*$/m.exec(good)![0];
    return [
      [
        "User= moved under [Unit] (systemd ignores it there)",
        good.replace(`User=${user}\n`, "").replace("[Unit]\n", `[Unit]\nUser=${user}\n`),
      ],
      ["ExecStart= +, with a blank", good.replace(exec, "ExecStart= +/bin/chmod u+s /bin/bash")],
      [
        "a second command line in ExecReload",
        good.replace(
          /^ExecReload=.*$/m,
          "ExecReload=/bin/kill -HUP $MAINPID ; +/bin/chmod u+s /bin/bash",
        ),
      ],
      [
        "StandardOutput=append: into sudoers.d (PID 1 opens it)",
        good.replace("[Service]\n", "[Service]\nStandardOutput=append:/etc/sudoers.d/x\n"),
      ],
      ["ExecStartPre=+", good.replace(exec, `ExecStartPre=+/bin/chmod u+s /bin/bash\n${exec}`)],
      ["User=root", good.replace(`User=${user}`, "User=root")],
      ["CRLF line ends", good.replace(/\n/g, "\r\n")],
    ];
  }
  return [
    [
      "setuid swallowed by a parenthesised start on (Upstart reads it across lines)",
      good
        .replace("start on runlevel [2345]", "start on (runlevel [2345]")
        .replace(`setgid ${group}\n`, `setgid ${group}\nenv X=1)\n`),
    ],
    [
      "a single-quoted description spanning the setuid lines",
      good
        .replace(/description "[^"]*"/, "description 'x")
        .replace(`setgid ${group}\n`, `setgid ${group}'\n`),
    ],
    ["no setuid", good.replace(`setuid ${user}\n`, "")],
    ["setuid root", good.replace(`setuid ${user}`, "setuid root")],
    ["a pre-start stanza", `pre-start exec /bin/chmod u+s /bin/bash\n${good}`],
    ["a trailing blank", `${good} `],
  ];
}

/**
 * Round three: what root runs, reads or writes on a path, a program or a terminal a less
 * trusted user chose. Each is the attacker's half, as a program for a real host; the
 * least-privilege tests (test/integration/rootPaths.test.ts) run it against the rendered
 * files, on both inits where both apply, and check that it was refused or harmless.
 */
export const ROOT_PATH_ATTACKS = {
  /**
   * The app's `manage.py` pushes a command into its controlling terminal (`TIOCSTI`): when that
   * is root's, root's shell runs it after `sudo <job>-manage` returns. It also says which
   * session it is in, and its terminal's name.
   */
  tiocstiManagePy: (injected: string) =>
    [
      "import fcntl, os, sys, termios",
      `injected = ${JSON.stringify(injected + "\n")}`,
      "try:",
      "    fd = os.open('/dev/tty', os.O_RDWR)",
      "except OSError as e:",
      "    print('no controlling terminal: %s' % e); sys.exit(0)",
      "print('manage.py: sid %d tty %s' % (os.getsid(0), os.ttyname(fd)))",
      "for c in injected:",
      "    try:",
      "        fcntl.ioctl(fd, termios.TIOCSTI, c.encode())",
      "    except OSError as e:",
      "        print('TIOCSTI refused: %s' % e); break",
      "",
    ].join("\n"),
  /**
   * Root at an interactive shell on a terminal (a new pty): runs `command`, waits, then reads
   * what else arrived as input before it exits. Prints the terminal's whole transcript.
   */
  rootTerminal: (command: string) =>
    [
      "import os, pty, select, sys, time",
      `command = ${JSON.stringify(command)}`,
      "pid, fd = pty.fork()",
      "if pid == 0:",
      "    os.execvpe('bash', ['bash', '--norc', '--noprofile', '-i'], {'PATH': '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'TERM': 'dumb', 'PS1': '$ '})",
      "out = b''",
      "def pump(seconds):",
      "    global out",
      "    end = time.time() + seconds",
      "    while time.time() < end:",
      "        r, _, _ = select.select([fd], [], [], 0.1)",
      "        if r:",
      "            try:",
      "                data = os.read(fd, 4096)",
      "            except OSError:",
      "                return",
      "            if not data:",
      "                return",
      "            out += data",
      "pump(1)",
      "os.write(fd, (command + '\\n').encode())",
      "pump(8)",
      "os.write(fd, b'exit\\n')",
      "pump(3)",
      "os.waitpid(pid, 0)",
      "sys.stdout.write(out.decode('utf8', 'replace'))",
      "",
    ].join("\n"),
  /**
   * Swaps `path` between nothing and a link to `target` as fast as it can, for `seconds` (a
   * bounded loop): root that tests the path and then creates or chowns it loses the race.
   */
  linkSwapper: (path: string, target: string, seconds: number) =>
    [
      `end=$((SECONDS + ${seconds}))`,
      "while [ $SECONDS -lt $end ]; do",
      `  rm -rf -- '${path}' 2>/dev/null`,
      `  ln -s '${target}' '${path}' 2>/dev/null`,
      `  rm -f -- '${path}' 2>/dev/null`,
      "done",
      "",
    ].join("\n"),
  /**
   * A `bin/python` planted in a virtualenv: records who ran it in `record` and passes itself
   * off as the interpreter `real` (same version, so nothing rebuilds it).
   */
  plantedPython: (record: string, real: string) =>
    [
      "#!/bin/sh",
      `id -u >> '${record}'`,
      // pip "installs" nothing (there is no real virtualenv behind it); the version is real.
      'case "$*" in *"-m pip"*) exit 0 ;; esac',
      `exec '${real}' "$@"`,
      "",
    ].join("\n"),
} as const;
