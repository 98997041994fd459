// The privileged helper of `sudo: "helper"`: its golden rendering, its argument checks (run for
// real with bash: they fail before anything touches the file system), and the identity check
// that keeps the job file or unit the one rendered when the helper was installed, run against
// every bypass a review found of the old pattern check and against random edits. The helper on
// a real host: test/integration/leastPrivilege.test.ts.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import fc from "fast-check";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { join, resolve } from "node:path";
import { after, describe, test } from "node:test";
import { normalizeSpec, type ServiceSettings } from "../../components/render/spec";
import { renderUpstartJob } from "../../components/render/upstartJob";
import { renderSystemdUnit } from "../../components/render/systemdUnit";
import { renderWriteFileScript } from "../../components/render/remoteScripts";
import {
  fixedContentCheck,
  renderSudoersRule,
  renderSudoHelper,
  sudoersPath,
} from "../../components/render/sudoHelper";
import { jobEscalations } from "../helpers/escalations";
import { assertGolden } from "../helpers/golden";

const GOLDEN = resolve(__dirname, "golden/sudo-helper");
const base: ServiceSettings = {
  job: "shop",
  user: "shop",
  group: "shop",
  setuid: "shop",
  setgid: "shop",
  sudo: "helper",
  projectDir: "/srv/shop/current",
  virtualenv: "/srv/shop/venv",
  logFile: "/var/log/shop/gunicorn.log",
  releases: true,
};
const spec = normalizeSpec(base);
const helper = renderSudoHelper(spec);

test("the helper and its sudoers rule render their golden files", () => {
  assertGolden(`${GOLDEN}/gunicorn-upstart-shop`, helper.content);
  assertGolden(`${GOLDEN}/sudoers`, renderSudoersRule("shop", "deploy"));
  assert.equal(helper.path, "/usr/local/sbin/gunicorn-upstart-shop");
  assert.deepEqual(helper.operations, [
    "write-job",
    "delete-job",
    "write-launcher",
    "delete-launcher",
    "write-hooks",
    "delete-hooks",
    "write-config",
    "delete-config",
    "write-logrotate",
    "delete-logrotate",
    "write-manage",
    "delete-manage",
    "write-logs",
    "delete-logs",
    "upload-release",
    "apply",
    "stop",
  ]);
  // sudo ignores files in sudoers.d whose name has a dot.
  assert.equal(sudoersPath("shop.v2"), "/etc/sudoers.d/gunicorn-upstart-shop_v2");
});

test("the shape changes with what is fixed in the helper, not with content or tuning", () => {
  const same = renderSudoHelper(normalizeSpec({ ...base, workers: 9, logLevel: "debug" }));
  assert.equal(same.shape, helper.shape, "workers and log level live in the config's content");
  for (const change of [
    { bind: "127.0.0.1:9000" },
    { logFile: "/var/log/shop/other.log" },
    { healthCheckPath: "/health" },
    { setuid: "web", user: "web" },
  ]) {
    const other = renderSudoHelper(normalizeSpec({ ...base, ...change }));
    assert.notEqual(other.shape, helper.shape, JSON.stringify(change));
  }
});

test("sudo helper needs a non-root setuid", () => {
  assert.equal(normalizeSpec({ ...base, setuid: undefined }).setuid, "shop", "the default");
  assert.throws(
    () => normalizeSpec({ ...base, setuid: undefined, bind: "0.0.0.0:80" }),
    /invalid 'setuid'.*helper/,
  );
  assert.throws(() => normalizeSpec({ ...base, setuid: "root" }), /invalid 'setuid'/);
  assert.throws(() => normalizeSpec({ ...base, sudo: "some" as never }), /invalid 'sudo'/);
});

describe("the helper's argument checks", () => {
  const dir = mkdtempSync(join(tmpdir(), "sudo-helper-"));
  const file = join(dir, "helper");
  writeFileSync(file, helper.content, { mode: 0o755 });
  after(() => rmSync(dir, { recursive: true, force: true }));
  const run = (...args: string[]) =>
    spawnSync("bash", [file, ...args], { input: "", encoding: "utf8" });

  test("a helper of another shape says so and what to do (exit 3)", () => {
    const r = run("0000000000000000", "apply");
    assert.equal(r.status, 3);
    assert.match(r.stderr, /installed for shape [0-9a-f]{16} of the job shop.*npm run render/);
  });
  test("an operation that fails says why first, on stdout, under the step runner (exit status kept)", () => {
    // The lifecycle refuses an empty manifest before it touches anything.
    const r = run(helper.shape, "apply");
    assert.equal(r.status, 2, r.stdout + r.stderr);
    assert.match(
      r.stdout,
      /^gunicorn-upstart: the lifecycle of shop on \S+ failed: no manifest on standard input\n$/,
    );
  });
  test("unknown operations, missing, extra and malformed arguments fail (exit 2)", () => {
    const cases: [string[], RegExp][] = [
      [[], /usage/],
      [[helper.shape], /usage/],
      [[helper.shape, "shell"], /unknown operation 'shell'; operations: write-job/],
      [[helper.shape, "write-job"], /write-job takes 1 argument/],
      [[helper.shape, "write-job", "12", "13"], /takes 1 argument/],
      [[helper.shape, "write-job", "12; id"], /expected a byte count, got '12; id'/],
      [[helper.shape, "write-job", "-1"], /expected a byte count/],
      [[helper.shape, "write-job", "1234567890123"], /expected a byte count/],
      [[helper.shape, "apply", "--debug"], /apply takes 0 argument/],
      [[helper.shape, "upload-release", "../../etc/x", "10"], /expected a release id/],
      [[helper.shape, "upload-release", "0123456789abcdef", "$(id)"], /expected a sha256/],
      [[helper.shape, "upload-release", "0123456789abcdef", "10"], /expected a sha256/],
      [[helper.shape, "upload-release", "0123456789abcdef", "A".repeat(64)], /expected a sha256/],
    ];
    for (const [args, message] of cases) {
      const r = run(...args);
      assert.equal(r.status, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, message);
    }
  });
});

describe("the job file and unit are fixed by identity (sha256 of the rendered bytes)", () => {
  const dir = mkdtempSync(join(tmpdir(), "job-check-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const me = userInfo().username;
  const myGroup = spawnSync("id", ["-gn"], { encoding: "utf8" }).stdout.trim();
  const path = join(dir, "shop.conf");

  /** Writes `content` through the write script with the check of `good`; returns the run. */
  function write(content: string, good: string) {
    const script = renderWriteFileScript(
      { path, owner: me, group: myGroup, mode: "0644" },
      Buffer.byteLength(content),
      { check: fixedContentCheck(good) },
    );
    return spawnSync("bash", ["-c", script], { input: content, encoding: "utf8" });
  }

  for (const init of ["upstart", "systemd"] as const) {
    const s = normalizeSpec({ ...base, init });
    const good = init === "systemd" ? renderSystemdUnit(s) : renderUpstartJob(s);

    test(`${init}: the rendered file is accepted, every bypass of the old pattern check is refused; the old file stays`, () => {
      assert.equal(write(good, good).status, 0);
      for (const [label, content] of jobEscalations(good, init, "shop", "shop")) {
        assert.notEqual(content, good, `${label}: the attempt did not change the file`);
        const r = write(content, good);
        assert.equal(r.status, 1, `${label} was accepted`);
        assert.match(r.stderr, /its content is fixed when the helper is installed/, label);
        assert.equal(readFileSync(path, "utf8"), good, `${label}: the old file changed`);
        assert.equal(
          spawnSync("ls", ["-A", dir], { encoding: "utf8" }).stdout.trim(),
          "shop.conf",
          `${label}: a temp file stayed`,
        );
      }
    });

    test(`${init}: random content from the deploy user never replaces the file (property)`, () => {
      fc.assert(
        fc.property(fc.string({ maxLength: 300 }), fc.nat({ max: good.length }), (insert, at) => {
          const content = good.slice(0, at) + insert + good.slice(at);
          fc.pre(content !== good);
          const r = write(content, good);
          return r.status === 1 && readFileSync(path, "utf8") === good;
        }),
        { numRuns: 40 },
      );
    });
  }

  test("the helper's job check is the identity of the job it renders", () => {
    const h = renderSudoHelper(spec);
    const job = renderUpstartJob(spec);
    const sum = createHash("sha256").update(job).digest("hex");
    assert.ok(h.content.includes(sum), "the helper holds the job's sha256");
    assert.doesNotMatch(h.content, /awk -v user=/, "no pattern checks are left");
  });
});
