// The README is the page a user reads first, and the rest lives under docs/: the README stays
// short, every relative link in it and in docs/*.md reaches a file that exists, and every
// #anchor names a heading of its page, by GitHub's rules for heading anchors.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { REFERENCE_BEGIN, REFERENCE_FILE } from "../../scripts/settingsDocs";

const ROOT = resolve(__dirname, "../..");
const PAGES = [
  "README.md",
  ...readdirSync(join(ROOT, "docs"))
    .filter((f) => f.endsWith(".md"))
    .map((f) => `docs/${f}`),
];

/** The page's lines outside fenced code blocks (a `# comment` in a shell block is no heading). */
function prose(text: string): string[] {
  let fence: string | undefined;
  const out: string[] = [];
  for (const line of text.split("\n")) {
    const m = /^\s*(```|~~~)/.exec(line);
    if (m) {
      if (fence === undefined) fence = m[1];
      else if (fence === m[1]) fence = undefined;
      continue;
    }
    if (fence === undefined) out.push(line);
  }
  return out;
}

/**
 * GitHub's anchor for a heading: the text as rendered (no backticks, emphasis or link syntax),
 * lowercased, punctuation but hyphens dropped, each space a hyphen; a repeated heading gets
 * -1, -2, ...
 */
function headingAnchors(text: string): Set<string> {
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  for (const line of prose(text)) {
    const m = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!m) continue;
    const slug = (m[1] as string)
      .replace(/\[([^\]]*)\]\([^)]*\)/g, "$1")
      .toLowerCase()
      .replace(/[^\p{L}\p{N} _-]/gu, "")
      .replace(/ /g, "-");
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    anchors.add(n === 0 ? slug : `${slug}-${n}`);
  }
  return anchors;
}

/** Every link and image target in the page's prose, inline code left out. */
function linkTargets(text: string): string[] {
  const targets: string[] = [];
  for (const line of prose(text)) {
    const plain = line.replace(/`[^`]*`/g, "code");
    for (const m of plain.matchAll(
      /!?\[(?:[^[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g,
    )) {
      targets.push(m[1] as string);
    }
  }
  return targets;
}

const read = (page: string) => readFileSync(join(ROOT, page), "utf8");

describe("the README and docs/", () => {
  test("the README stays a first read: under 350 lines", () => {
    const lines = read("README.md").split("\n").length;
    assert.ok(lines < 350, `README.md has ${lines} lines; move sections to docs/`);
  });

  test("the slug rules give the anchors GitHub gives", () => {
    assert.deepEqual(
      [
        ...headingAnchors(
          [
            "## What `pulumi up` shows: progress, and a failure in a few lines",
            "## Least privilege: `sudo: helper`",
            "### Deploying the app's code: releases",
            "```sh",
            "# a shell comment",
            "```",
            "## Testing",
            "## Testing",
          ].join("\n"),
        ),
      ],
      [
        "what-pulumi-up-shows-progress-and-a-failure-in-a-few-lines",
        "least-privilege-sudo-helper",
        "deploying-the-apps-code-releases",
        "testing",
        "testing-1",
      ],
    );
  });

  for (const page of PAGES) {
    test(`every relative link in ${page} reaches a file, and every #anchor a heading`, () => {
      const text = read(page);
      const targets = linkTargets(text).filter((t) => !/^[a-z][a-z0-9+.-]*:/i.test(t));
      assert.ok(targets.length > 0, `${page} links nothing`);
      for (const target of targets) {
        const [path = "", anchor] = target.split("#", 2);
        const file = path === "" ? join(ROOT, page) : resolve(join(ROOT, dirname(page)), path);
        const shown = relative(ROOT, file);
        assert.ok(!shown.startsWith(".."), `${page}: ${target} leaves the repository`);
        assert.ok(existsSync(file), `${page}: ${target}: no ${shown}`);
        if (anchor === undefined) continue;
        assert.ok(shown.endsWith(".md"), `${page}: ${target}: an anchor into a non-Markdown file`);
        assert.ok(
          headingAnchors(readFileSync(file, "utf8")).has(anchor),
          `${page}: ${target}: ${shown} has no heading #${anchor}`,
        );
      }
    });
  }

  test("every page under docs/ is linked from the README", () => {
    const linked = new Set(linkTargets(read("README.md")).map((t) => t.split("#")[0]));
    for (const page of PAGES.filter((p) => p !== "README.md")) {
      assert.ok(linked.has(page), `README.md does not link ${page}`);
    }
  });

  test("the generated configuration reference is on its page, not copied into the README", () => {
    assert.ok(read(REFERENCE_FILE).includes(REFERENCE_BEGIN));
    assert.ok(!read("README.md").includes(REFERENCE_BEGIN));
  });
});
