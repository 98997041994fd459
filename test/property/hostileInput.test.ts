// Hostile input, by property: for every string field that reaches a file or a shell, many
// generated values (quotes, $(), backticks, newlines, NUL, unicode, leading dashes, very long
// strings). Each value is either refused by validation with a SpecError naming the field, or
// it round-trips byte for byte: the rendered shell is executed by bash and gives back exactly
// the value, the Gunicorn config is executed by Python and gives back exactly the value, and
// the job file gets exactly the stanzas it should (no injected line). Zero other outcomes.
//
// FUZZ_RUNS (default 10000) sets the values per field; the seed is fixed, so a failure repeats.
// Executing: the launcher's assignments and its exec line are run with `printf` in place of
// `gunicorn` (and without its redirection); its source/cd/mkdir lines, which would touch the
// hostile paths on this machine, are not run: they only use the same variables, quoted.
import { test, describe, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import {
  checkEnv,
  normalizeSpec,
  SpecError,
  type ServiceSettings,
  type ServiceSpec,
} from "../../components/render/spec";
import { renderLauncher } from "../../components/render/launcher";
import { renderUpstartJob } from "../../components/render/upstartJob";
import { renderGunicornConfig } from "../../components/render/gunicornConfig";
import { renderStepProgram, renderWriteFileScript } from "../../components/render/remoteScripts";
import { renderApplyScript } from "../../components/render/lifecycleScripts";
import { shQuote } from "../../components/render/shell";
import { writeHooksBeside } from "../helpers/hooks";

const RUNS = Number(process.env.FUZZ_RUNS ?? 10_000);
const SEED = 20261126;
const counts: Record<string, { accepted: number; refused: number }> = {};

const NASTY = [
  "'",
  '"',
  "$(id)",
  "`id`",
  "${HOME}",
  "$HOME",
  "\n",
  "\r",
  "\t",
  "\0",
  "\\",
  " ",
  "-",
  "--",
  "-rf",
  ";",
  "&&",
  "|",
  ">",
  "<",
  "*",
  "?",
  "~",
  "#",
  "{",
  "}",
  "[",
  "]",
  "=",
  ":",
  "/",
  "..",
  ".",
  "%s",
  "\u00e9",
  "\u4e2d",
  "\u{1f600}",
  "\u202e",
  "\ufeff",
  "\u0085",
  "\u2028",
];
/** Hostile strings: shell and stanza syntax, control characters, unicode, and long runs. */
const hostile: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc
      .array(fc.oneof(fc.constantFrom(...NASTY), fc.string({ maxLength: 6 })), { maxLength: 12 })
      .map((a) => a.join("")),
  },
  { weight: 2, arbitrary: fc.string({ unit: "binary", maxLength: 40 }) },
  { weight: 2, arbitrary: fc.stringMatching(/^[a-z_][a-z0-9_-]{0,31}$/) },
  { weight: 1, arbitrary: fc.string({ minLength: 1000, maxLength: 5000 }) },
);
/** Path-shaped hostile strings: mostly absolute, so many get through validation. */
const hostilePath = fc.oneof(
  {
    weight: 4,
    arbitrary: fc
      .array(
        hostile.filter((s) => s.length < 60),
        { minLength: 1, maxLength: 4 },
      )
      .map((parts) => "/" + parts.join("/")),
  },
  { weight: 1, arbitrary: hostile },
);

/** Bind addresses: the three forms with hostile hosts, ports and paths, and plain hostile strings. */
const hostileBind = fc.oneof(
  hostile,
  fc
    .tuple(
      fc.oneof(
        fc.constantFrom("127.0.0.1", "0.0.0.0", "[::1]", "[::]", "localhost", "example.com"),
        hostile,
      ),
      fc.integer({ min: -1, max: 70000 }),
    )
    .map(([h, p]) => `${h}:${p}`),
  hostilePath.map((p) => `unix:${p}`),
);

/**
 * Runs shell scripts in batches of 400, one subshell each; each script prints NUL-separated
 * values, framed as one base64 line per script so that no value can be mistaken for a frame.
 */
function bashBatch(scripts: string[], shell: "bash" | "sh" = "bash"): string[][] {
  const out: string[][] = [];
  for (let i = 0; i < scripts.length; i += 400) {
    const chunk = scripts.slice(i, i + 400);
    const batch = chunk.map((s) => `(\n${s}\n) | base64 -w0; echo`).join("\n") + "\n";
    const r = spawnSync(shell, ["-s"], { input: batch, encoding: "utf8", maxBuffer: 1 << 28 });
    assert.equal(
      r.status,
      0,
      `batch failed: ${String(r.error ?? "")} ${String(r.stderr).slice(0, 2000)}`,
    );
    const lines = r.stdout.split("\n").slice(0, chunk.length);
    assert.equal(lines.length, chunk.length, `batch output: ${r.stderr.slice(0, 500)}`);
    for (const line of lines)
      out.push(Buffer.from(line, "base64").toString("utf8").split("\0").slice(0, -1));
  }
  return out;
}

/** Validates one field's value: refused naming the field, or accepted (returned). */
function check(field: string, settings: ServiceSettings, label = field): ServiceSpec | undefined {
  counts[label] ??= { accepted: 0, refused: 0 };
  const count = counts[label];
  try {
    const spec = normalizeSpec(settings);
    count.accepted++;
    return spec;
  } catch (e) {
    assert.ok(e instanceof SpecError, `${field}: ${String(e)}`);
    assert.ok(
      e.field === field || e.field.startsWith(`${field}.`) || e.field.startsWith(`${field}[`),
      `${field}: refused as '${e.field}'`,
    );
    count.refused++;
    return undefined;
  }
}

/**
 * The rendered launcher as it is, except: its three lines that touch the file system (source,
 * cd, mkdir) are dropped, and `exec gunicorn ... 2>>"$LOGFILE"` becomes `printf '%s\0' ...`.
 * Works on the whole text: a quoted argument may span lines.
 */
function launcherArgv(spec: ServiceSpec): string {
  let text = renderLauncher(spec);
  for (const line of [
    'source "$VIRTUALENV/bin/activate"\n',
    'cd "$PROJECTDIR"\n',
    'test -d "$LOGDIR" || mkdir -p "$LOGDIR"\n',
  ]) {
    assert.ok(text.includes(line), line);
    text = text.replace(line, "");
  }
  assert.ok(text.includes("\nexec gunicorn ") && text.endsWith(' 2>>"$LOGFILE"\n'));
  return text.replace("\nexec gunicorn ", "\nprintf '%s\\0' ").replace(/ 2>>"\$LOGFILE"\n$/, "\n");
}

function expectedArgv(spec: ServiceSpec): string[] {
  return [
    "--config",
    spec.gunicornConfigPath,
    "--user",
    spec.user,
    "--group",
    spec.group,
    "--log-file",
    spec.logFile,
    ...spec.extraArgs,
    spec.wsgiApp,
  ];
}

describe("hostile input", () => {
  after(() => {
    for (const [field, c] of Object.entries(counts)) {
      console.log(
        `fuzz ${field}: ${c.accepted + c.refused} values (seed ${SEED}), ${c.accepted} accepted and round-tripped, ${c.refused} refused with the field named`,
      );
    }
  });

  for (const field of [
    "logFile",
    "virtualenv",
    "projectDir",
    "gunicornConfigPath",
    "user",
    "group",
    "wsgiApp",
  ] as const) {
    test(`${field}: every value is refused naming it, or reaches Gunicorn's argv byte for byte`, () => {
      const accepted: ServiceSpec[] = [];
      const arb =
        field === "user" || field === "group" || field === "wsgiApp" ? hostile : hostilePath;
      fc.assert(
        fc.property(arb, (v) => {
          const spec = check(field, {
            [field]: v,
            ...(field === "projectDir" ? { launcherPath: "/srv/run.sh" } : {}),
          });
          if (spec) accepted.push(spec);
        }),
        { numRuns: RUNS, seed: SEED },
      );
      const outputs = bashBatch(accepted.map(launcherArgv));
      accepted.forEach((spec, i) =>
        assert.deepEqual(outputs[i], expectedArgv(spec), `${field}=${JSON.stringify(spec[field])}`),
      );
    });
  }

  test("extraArgs: every argument reaches Gunicorn's argv as one word, byte for byte", () => {
    const accepted: ServiceSpec[] = [];
    fc.assert(
      fc.property(fc.array(hostile, { maxLength: 4 }), (args) => {
        const spec = check("extraArgs", { extraArgs: args });
        if (spec) accepted.push(spec);
      }),
      { numRuns: RUNS, seed: SEED },
    );
    const outputs = bashBatch(accepted.map(launcherArgv));
    accepted.forEach((spec, i) => assert.deepEqual(outputs[i], expectedArgv(spec)));
  });

  test("paths and names in the remote scripts round-trip through the loaded program and bash", () => {
    const accepted: { spec: ServiceSpec; script: string }[] = [];
    fc.assert(
      fc.property(hostilePath, hostile, (path, job) => {
        const spec = check("logFile", { logFile: path }, "remote scripts (logFile)");
        if (!spec) return;
        // The write script's and the lifecycle's assignments, then print them.
        const write = renderWriteFileScript(
          { path: spec.logFile, owner: spec.user, group: spec.group, mode: "0640" },
          1,
        )
          .split("\n")
          .filter((l) => /^(FILE|DIR)=/.test(l));
        const apply = renderApplyScript(spec)
          .split("\n")
          .filter((l) => /^(JOB|LOGFILE|STATE_FILE)=/.test(l));
        // Printed as a result (fd 7): the step runner keeps the script's own stdout in its log.
        const script = [
          ...write,
          ...apply,
          `printf '%s\\0' "$FILE" "$DIR" "$JOB" "$LOGFILE" >&7`,
        ].join("\n");
        // What the loader runs once it has read the program from stdin (here, no stdin: the
        // step runner reads what is left of it, which would be the rest of the batch).
        const program = renderStepProgram({ run: { label: `writing ${spec.logFile}`, script } });
        accepted.push({
          spec,
          script: `bash -c ${shQuote(program)} gunicorn-upstart run </dev/null`,
        });
        void job;
      }),
      { numRuns: Math.ceil(RUNS / 4), seed: SEED },
    );
    const outputs = bashBatch(
      accepted.map((a) => a.script),
      "sh",
    );
    accepted.forEach(({ spec }, i) => {
      const dir = spec.logFile.slice(0, spec.logFile.lastIndexOf("/")) || "/";
      assert.deepEqual(outputs[i], [spec.logFile, dir, spec.job, spec.logFile]);
    });
  });

  test("shQuote: any string without NUL round-trips through bash, also quoted twice", () => {
    const values: string[] = [];
    fc.assert(
      fc.property(fc.oneof(hostile, fc.string({ unit: "binary", maxLength: 200 })), (v) => {
        if (v.includes("\0")) {
          assert.throws(() => shQuote(v), /NUL/);
          return;
        }
        values.push(v);
      }),
      { numRuns: RUNS, seed: SEED },
    );
    const once = bashBatch(values.map((v) => `printf '%s\\0' ${shQuote(v)}`));
    const twice = bashBatch(
      values.map((v) => `bash -c ${shQuote(`printf '%s\\0' ${shQuote(v)}`)}`),
    );
    values.forEach((v, i) => {
      assert.deepEqual(once[i], [v]);
      assert.deepEqual(twice[i], [v]);
    });
  });

  test("description and job env values cannot add a stanza to the job file", () => {
    // The defaults' stanzas: the recipe's six, kill timeout, setuid and setgid.
    const plain = renderUpstartJob(normalizeSpec({}))
      .split("\n")
      .filter((l) => l !== "" && !l.startsWith("#")).length;
    assert.equal(plain, 9);
    fc.assert(
      fc.property(
        hostile,
        fc.stringMatching(/^[A-Z_][A-Z0-9_]{0,8}$/),
        hostile,
        (description, key, value) => {
          const a = check("description", { description });
          if (a) {
            const stanzas = renderUpstartJob(a)
              .split("\n")
              .filter((l) => l !== "" && !l.startsWith("#"));
            assert.equal(stanzas[0], `description "${description}"`);
            assert.equal(stanzas.length, plain, "the default stanzas, nothing more");
          }
          const b = check("jobEnv", { jobEnv: { [key]: value } });
          if (b) {
            const stanzas = renderUpstartJob(b)
              .split("\n")
              .filter((l) => l !== "" && !l.startsWith("#"));
            assert.deepEqual(
              stanzas.filter((l) => l.startsWith("env ")),
              [`env ${key}="${value}"`],
            );
            assert.equal(stanzas.length, plain + 1);
          }
        },
      ),
      { numRuns: RUNS, seed: SEED },
    );
  });

  test("app environment values and the bind address round-trip through Python exactly", () => {
    const cases: { config: string; env: Record<string, string>; bind: string }[] = [];
    // The config runs the hooks' module beside it (the default job's: every case has it).
    const dir = mkdtempSync(join(tmpdir(), "hostile-config-"));
    writeHooksBeside(join(dir, "config"), normalizeSpec({}));
    fc.assert(
      fc.property(
        fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,12}$/),
        fc.oneof(hostile, fc.string({ unit: "binary", maxLength: 100 })),
        hostileBind,
        (key, value, bind) => {
          counts.appEnv ??= { accepted: 0, refused: 0 };
          if (value.includes("\0")) {
            assert.throws(
              () => renderAfterCheck(key, value),
              (e: unknown) => e instanceof SpecError && e.field.startsWith("appEnv"),
            );
            counts.appEnv.refused++;
            return;
          }
          counts.appEnv.accepted++;
          const spec = check("bind", { bind }) ?? normalizeSpec({});
          cases.push({
            config: renderGunicornConfig(spec, { [key]: value }),
            env: { [key]: value },
            bind: spec.bind,
          });
        },
      ),
      { numRuns: RUNS, seed: SEED },
    );
    const program = [
      "import json, sys",
      "cases = json.load(sys.stdin)",
      "bad = []",
      "for i, c in enumerate(cases):",
      "    scope = {'__file__': sys.argv[1]}",
      "    exec(compile(c['config'], 'config', 'exec'), scope)",
      "    env = dict(item.split('=', 1) for item in scope['raw_env'])",
      "    if env != c['env'] or scope['bind'] != [c['bind']]:",
      "        bad.append(i)",
      "print(json.dumps(bad))",
    ].join("\n");
    const r = spawnSync("/usr/bin/python3", ["-c", program, join(dir, "config")], {
      input: JSON.stringify(cases),
      encoding: "utf8",
      maxBuffer: 1 << 26,
    });
    rmSync(dir, { recursive: true, force: true });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), [], "values that did not round-trip");
  });
});

function renderAfterCheck(key: string, value: string): string {
  // The component validates appEnv with checkEnv; NUL is refused there.
  return renderGunicornConfig(normalizeSpec({}), checkEnv("appEnv", { [key]: value }, false));
}
