// The settings table is the one place a setting is declared: what is derived from it is
// current, no other file keeps a list of setting names, and each row's declared effect and
// landing are what the renderers really do.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { SETTINGS, SETTING_NAMES, type Setting } from "../../components/render/settings";
import { normalizeSpec, type ServiceSettings } from "../../components/render/spec";
import { renderHostFiles, renderServiceFiles } from "../../components/render/hostFiles";
import { renderApplyScript, renderStopScript } from "../../components/render/lifecycleScripts";
import { renderSudoHelper } from "../../components/render/sudoHelper";
import { generatedFiles } from "../../scripts/settingsDocs";

const ROOT = resolve(__dirname, "../..");

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return path.endsWith(".ts") ? [path] : [];
  });
}

describe("the settings table", () => {
  test("Pulumi.yaml, the Args type and the configuration reference page are what the table generates", async () => {
    for (const [path, content] of await generatedFiles(ROOT)) {
      assert.ok(
        readFileSync(join(ROOT, path), "utf8") === content,
        `${path} is stale: run npm run generate`,
      );
    }
  });

  test("no file but the table keeps a list of setting names", () => {
    // Four setting names in a row, quoted, is a hand-kept list (the drift the table ended).
    const names = SETTING_NAMES.join("|");
    const list = new RegExp(`("(?:${names})",\\s*){3}"(?:${names})"`);
    const files = [
      ...sourceFiles(join(ROOT, "components")),
      ...sourceFiles(join(ROOT, "scripts")),
      join(ROOT, "index.ts"),
    ].filter((f) => !f.endsWith("components/render/settings.ts"));
    for (const file of files) {
      const m = list.exec(readFileSync(file, "utf8"));
      assert.equal(m, null, `${file} lists setting names: ${m?.[0] ?? ""}`);
    }
  });

  test("pure code never imports a component: render/ reaches only itself and Node", () => {
    // Data flows one way (config -> spec -> rendered files -> resources); an import of a
    // component (or of Pulumi) from the pure side is the arrow running back up. The folders
    // say which is which: components/render/ is pure, components/host/ holds the programs it
    // renders, components/ itself the Pulumi components.
    for (const file of sourceFiles(join(ROOT, "components/render"))) {
      for (const m of readFileSync(file, "utf8").matchAll(/from "([^"]+)"/g)) {
        const spec = m[1] as string;
        // (yaml: the stack file's parser, for reading Pulumi.yaml offline.)
        const ok = spec.startsWith("node:") || spec === "yaml" || /^\.\/[A-Za-z]+$/.test(spec);
        assert.ok(ok, `${file} imports ${spec}`);
      }
    }
  });

  test("no Upstart wording where systemd runs: every file and script rendered for a systemd host", () => {
    const spec = normalizeSpec({ init: "systemd", sudo: "helper" });
    const texts: Record<string, string> = {
      apply: renderApplyScript(spec),
      stop: renderStopScript(spec),
      helper: renderSudoHelper(spec).content,
    };
    for (const f of renderHostFiles(spec, {})) texts[f.role] = f.content;
    for (const [name, text] of Object.entries(texts)) {
      for (const line of text.split("\n")) {
        // The product's name has the word; so does one comparison that says why systemd differs.
        const words = line.replace(/gunicorn-upstart/g, "").replace(/unlike an Upstart job/, "");
        assert.doesNotMatch(words, /upstart|initctl/i, `${name}: ${line}`);
      }
    }
  });

  test("every row has a doc, a valid example other than its default, and a stack type or none", () => {
    for (const name of SETTING_NAMES) {
      const row = SETTINGS[name] as Setting<unknown>;
      assert.ok(row.doc.length > 10 && !row.doc.includes("\n"), `${name}: one-line doc`);
      const base = normalizeSpec({});
      const changed = normalizeSpec({ [name]: row.example } as ServiceSettings);
      assert.notDeepEqual(
        (changed as Record<string, unknown>)[name],
        (base as Record<string, unknown>)[name],
        `${name}: the example differs from the default`,
      );
    }
  });

  for (const init of ["upstart", "systemd"] as const) {
    test(`under ${init}, each setting's change does what its row says, where it says`, () => {
      const base = normalizeSpec({ init });
      const before = renderServiceFiles(base, {});
      const checked: string[] = [];
      for (const name of SETTING_NAMES) {
        const row = SETTINGS[name] as Setting<unknown>;
        if (name === "init" && init === "systemd") continue; // the example is the base
        const after = renderServiceFiles(normalizeSpec({ init, [name]: row.example }), {});
        const differs = (role: "job" | "launcher" | "gunicornConfig") =>
          before[role].path !== after[role].path || before[role].content !== after[role].content;
        const effect =
          differs("job") || differs("launcher")
            ? "restart"
            : differs("gunicornConfig")
              ? "reload"
              : "none";
        // A setting that lands nowhere under this init changes nothing there.
        const landsHere =
          row.gunicorn !== undefined ||
          row.launcher !== undefined ||
          row.env !== undefined ||
          row.hook !== undefined ||
          row[init] !== undefined ||
          name === "init"; // which file is written at all
        assert.equal(
          effect,
          landsHere ? (row.effectUnder?.[init] ?? row.effect) : "none",
          `${name} (example ${JSON.stringify(row.example)})`,
        );
        // The declared Gunicorn key, stanza or unit key is on a line the change added or removed.
        const newLines = (role: "job" | "gunicornConfig") => {
          const a = before[role].content.split("\n");
          const b = after[role].content.split("\n");
          return [...a.filter((l) => !b.includes(l)), ...b.filter((l) => !a.includes(l))];
        };
        if (row.gunicorn !== undefined) {
          const key = `${row.gunicorn.key} = `;
          assert.ok(
            newLines("gunicornConfig").some((l) => l.startsWith(key)),
            `${name}: ${key}`,
          );
        }
        if (row.hook !== undefined) {
          assert.ok(
            newLines("gunicornConfig").some((l) => /^_WARM_[A-Z_]+ = /.test(l)),
            `${name}: a _WARM_ value of the warm reload's hooks`,
          );
        }
        if (row.env !== undefined) {
          const entry = `    ${JSON.stringify(`${row.env}=`).slice(0, -1)}`;
          assert.ok(
            newLines("gunicornConfig").some((l) => l.startsWith(entry)),
            `${name}: ${row.env} in raw_env`,
          );
        }
        const stanza = row[init];
        if (stanza !== undefined && /^(?!the )[A-Za-z][A-Za-z ]*=?$/.test(stanza)) {
          const lines = newLines("job");
          assert.ok(
            lines.some((l) => (init === "systemd" ? l.startsWith(stanza) : l.includes(stanza))),
            `${name}: ${stanza} in ${JSON.stringify(lines)}`,
          );
        }
        checked.push(name);
      }
      assert.ok(checked.length >= SETTING_NAMES.length - 1);
    });
  }
});
