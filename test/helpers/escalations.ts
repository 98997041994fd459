import type { Init } from "../../components/spec";

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
