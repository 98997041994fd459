// Offline render: `npm run render -- --out DIR [--stack NAME]` writes the exact files the stack
// would put on the host under DIR at their host paths, from the same config and the same code
// as `pulumi up`, with no cloud and no Pulumi CLI. Bad config: the preview's error, exit 1,
// nothing written. With `sudo: helper`, also the job's privileged helper and its sudoers rule,
// for an admin to install once.
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { SpecError } from "../components";
import { renderHostFiles, type RenderedFile } from "../components/render/hostFiles";
import { readProjectConfig } from "../components/render/projectConfig";
import { readStackConfig } from "../components/render/stackConfig";
import { nginxSitePath, renderNginxSite } from "../components/render/nginxSite";
import { renderSudoersRule, renderSudoHelper, sudoersPath } from "../components/render/sudoHelper";

function main(): number {
  const { values } = parseArgs({
    options: {
      out: { type: "string" },
      stack: { type: "string" },
      project: { type: "string", default: "." },
    },
  });
  if (values.out === undefined) {
    process.stderr.write("usage: npm run render -- --out DIR [--stack NAME]\n");
    return 2;
  }
  let files: RenderedFile[];
  let secretKeys: string[];
  try {
    const source = readProjectConfig(resolve(values.project), values.stack);
    secretKeys = source.secretKeys;
    const stack = readStackConfig(source);
    files = renderHostFiles(stack.spec, stack.appEnv);
    if (stack.spec.nginx) {
      // The nginx site, as the site step installs it (checked with nginx -t there).
      files.push({
        path: nginxSitePath(stack.spec),
        content: renderNginxSite(stack.spec),
        owner: "root",
        group: "root",
        mode: "0644",
      });
    }
    if (stack.spec.sudo === "helper") {
      // Installed once by an admin, as root: the only thing the SSH user may run with sudo.
      const helper = renderSudoHelper(stack.spec);
      const t = stack.target;
      const sshUser = t.kind === "host" ? t.user : t.kind === "vm" ? t.sshUser : "deploy";
      files.push(
        { path: helper.path, content: helper.content, owner: "root", group: "root", mode: "0755" },
        {
          path: sudoersPath(stack.spec.job),
          content: renderSudoersRule(stack.spec.job, sshUser ?? "ubuntu"),
          owner: "root",
          group: "root",
          mode: "0440",
        },
      );
    }
  } catch (e) {
    const message =
      e instanceof SpecError ? `config: ${e.message}` : String((e as Error).message ?? e);
    process.stderr.write(`error: ${message}\n`);
    return 1;
  }
  for (const file of files) {
    const target = join(resolve(values.out), file.path);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, file.content, { mode: parseInt(file.mode, 8) });
    process.stdout.write(`${file.mode} ${file.owner}:${file.group} ${file.path}\n`);
  }
  if (secretKeys.includes("secretEnv")) {
    process.stderr.write(
      "note: secretEnv is encrypted in the stack file and is not rendered; `pulumi up` adds it to raw_env\n",
    );
  }
  return 0;
}

process.exitCode = main();
