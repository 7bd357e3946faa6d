/**
 * The docs are a map, so every road on it must lead somewhere:
 *
 * - every relative link and image in README.md, SECURITY.md and docs/ names
 *   a file that exists, and every `#anchor` a heading of that page (GitHub's
 *   slugs);
 * - every pointer to the docs that the code prints or says (the dev banner,
 *   `deno task up`, error hints, comments, the env templates) has one form,
 *   a path from the repository root with an optional anchor, such as
 *   `docs/local-development.md#without-docker`, and resolves the same way.
 *   An informal pointer ("README: Without Docker", "see the README") fails,
 *   since no test could follow it.
 */
import assert from "node:assert/strict";
import { REPO_ROOT } from "./support/process.ts";

/** The Markdown pages of the docs, relative to the repository root. */
async function markdownPages(): Promise<string[]> {
  const pages = ["README.md", "SECURITY.md"];
  const walk = async (dir: string) => {
    for await (const entry of Deno.readDir(`${REPO_ROOT}/${dir}`)) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory) await walk(path);
      else if (entry.name.endsWith(".md")) pages.push(path);
    }
  };
  await walk("docs");
  return pages.sort();
}

/** `text` with fenced code blocks blanked out, line numbers kept. */
function withoutFences(text: string): string {
  let fence: string | undefined;
  return text.split("\n").map((line) => {
    const marker = /^\s*(`{3,}|~{3,})/.exec(line)?.[1];
    if (fence) {
      if (marker && marker[0] === fence[0] && marker.length >= fence.length) fence = undefined;
      return "";
    }
    if (marker) {
      fence = marker;
      return "";
    }
    return line;
  }).join("\n");
}

/** GitHub's anchor for a heading's text (github-slugger's rules). */
export function slug(heading: string): string {
  const text = heading
    .replace(/\[([^\]]*)\]\([^)]*\)/g, "$1") // a link shows its text
    .replace(/`/g, "")
    .trim()
    .toLowerCase();
  return text.replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, "").replace(/ /g, "-");
}

const anchorCache = new Map<string, Set<string>>();

/** Every anchor a page has: its headings' slugs (repeats get -1, -2, ...) and HTML ids. */
async function anchorsOf(page: string): Promise<Set<string>> {
  const cached = anchorCache.get(page);
  if (cached) return cached;
  const text = withoutFences(await Deno.readTextFile(`${REPO_ROOT}/${page}`));
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of text.split("\n")) {
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line)?.[1];
    if (heading !== undefined) {
      const base = slug(heading);
      const count = seen.get(base) ?? 0;
      seen.set(base, count + 1);
      anchors.add(count ? `${base}-${count}` : base);
    }
    for (const id of line.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) anchors.add(id[1]);
  }
  anchorCache.set(page, anchors);
  return anchors;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(`${REPO_ROOT}/${path}`);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** `path` relative to the repository root, from a link in `page`; undefined if it leaves the repo. */
function resolve(page: string, target: string): string | undefined {
  const parts = page.split("/").slice(0, -1);
  for (const part of target.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (!parts.length) return undefined;
      parts.pop();
    } else parts.push(decodeURIComponent(part));
  }
  return parts.join("/");
}

/** Why `path#anchor` (repository-relative) does not resolve, or undefined when it does. */
async function brokenTarget(path: string, anchor: string | undefined): Promise<string | undefined> {
  if (!(await exists(path))) return `${path} does not exist`;
  if (anchor === undefined) return undefined;
  if (!path.endsWith(".md")) return `#${anchor} points into ${path}, which is not a Markdown page`;
  if (!(await anchorsOf(path)).has(anchor)) return `${path} has no heading #${anchor}`;
  return undefined;
}

/** The links and images of a page: [line, target]. */
function linksOf(text: string): [number, string][] {
  const links: [number, string][] = [];
  withoutFences(text).split("\n").forEach((line, index) => {
    const bare = line.replace(/(`+)[^`]*?\1/g, (code) => " ".repeat(code.length));
    for (const match of bare.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
      links.push([index + 1, match[1]]);
    }
  });
  return links;
}

Deno.test("every relative link and #anchor in README.md, SECURITY.md and docs/ resolves", async () => {
  const pages = await markdownPages();
  assert.ok(pages.includes("docs/configuration.md"), "docs/ holds the pages");
  const broken: string[] = [];
  let checked = 0;
  for (const page of pages) {
    for (const [line, target] of linksOf(await Deno.readTextFile(`${REPO_ROOT}/${page}`))) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:
      checked++;
      const [path, anchor] = target.split("#", 2);
      const resolved = path ? resolve(page, path) : page;
      const why = resolved === undefined
        ? "it leaves the repository"
        : await brokenTarget(resolved, anchor);
      if (why) broken.push(`${page}:${line}: (${target}): ${why}`);
    }
  }
  assert.deepEqual(broken, [], `broken links:\n${broken.join("\n")}`);
  assert.ok(checked > 50, `only ${checked} relative links found: is the link pattern right?`);
});

Deno.test("the link checker follows GitHub's anchors and catches a broken one", async (t) => {
  await t.step("slugs", () => {
    assert.equal(slug("Without Docker"), "without-docker");
    assert.equal(slug("`deno task up` says why"), "deno-task-up-says-why");
    assert.equal(slug("Setting up Resend's webhook"), "setting-up-resends-webhook");
    assert.equal(slug("Reconcile and the on-demand sync"), "reconcile-and-the-on-demand-sync");
    assert.equal(slug("What /users/me/sync answers"), "what-usersmesync-answers");
    assert.equal(slug("clerk_sync_runs, step by step"), "clerk_sync_runs-step-by-step");
  });
  await t.step("a missing page, a missing heading and a heading in a code block", async () => {
    assert.match(String(await brokenTarget("docs/nowhere.md", undefined)), /does not exist/);
    assert.match(String(await brokenTarget("README.md", "no-such-heading")), /no heading/);
    assert.equal(await brokenTarget("README.md", "quick-start"), undefined);
    assert.deepEqual(linksOf("```md\n[a](b.md)\n```\n`[c](d.md)` [e](f.md#g)"), [[4, "f.md#g"]]);
  });
});

/** Where the code prints or states pointers to the docs. */
const POINTER_SOURCES = ["functions", "scripts", "supabase"];
const POINTER_FILES = [".env.example", ".env.production.example", "deno.json"];

/** The pointer form: a page from the repository root, with an optional anchor. */
const POINTER = /(?<![\w/.-])((?:README|SECURITY)\.md|docs\/[\w/-]+\.md)(?:#([\w-]+))?/g;

/** Source files that may print or state a pointer, relative to the repository root. */
async function pointerSources(): Promise<string[]> {
  const files = [...POINTER_FILES];
  const walk = async (dir: string) => {
    for await (const entry of Deno.readDir(`${REPO_ROOT}/${dir}`)) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory) {
        if (![".temp", "dist", ".branches"].includes(entry.name)) await walk(path);
      } else if (/\.(ts|sql|toml)$/.test(entry.name)) files.push(path);
    }
  };
  for (const dir of POINTER_SOURCES) await walk(dir);
  return files;
}

Deno.test("every docs pointer in the code names a page and heading that exist", async () => {
  const broken: string[] = [];
  const found: string[] = [];
  for (const file of await pointerSources()) {
    const lines = (await Deno.readTextFile(`${REPO_ROOT}/${file}`)).split("\n");
    lines.forEach((text, index) => {
      const where = `${file}:${index + 1}`;
      // Informal pointers name no file a test could follow.
      if (/\bREADME\b(?!\.md)/.test(text)) {
        broken.push(`${where}: informal pointer, write it as docs/<page>.md#<heading>: ${text}`);
      }
      for (const match of text.matchAll(POINTER)) found.push(`${where}\0${match[1]}\0${match[2]}`);
    });
  }
  for (const entry of found) {
    const [where, path, anchor] = entry.split("\0");
    const why = await brokenTarget(path, anchor === "undefined" ? undefined : anchor);
    if (why) broken.push(`${where}: ${path}${anchor === "undefined" ? "" : `#${anchor}`}: ${why}`);
  }
  assert.deepEqual(broken, [], `broken pointers:\n${broken.join("\n")}`);
  // The banner's and `deno task up`'s hint are pointers of this form.
  const hint = found.filter((f) => f.includes("docs/local-development.md\0without-docker"));
  assert.ok(
    hint.some((f) => f.startsWith("functions/app/readiness.ts:")),
    "the database hint of /health and the banner points at a page and heading",
  );
  assert.ok(
    hint.some((f) => f.startsWith("scripts/up.ts:")),
    "deno task up points at a page and heading",
  );
});
