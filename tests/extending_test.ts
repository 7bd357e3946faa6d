/**
 * docs/extending.md cannot rot: its code blocks are the files of
 * docs/examples/provision_account/, and its worked example runs. In a fresh
 * copy of the repository the test does what the page says: the folder goes
 * to functions/provision_account/ with its imports rewritten, the page's
 * change to `functions/app.ts` is applied as written (or left alone where a
 * reader who followed the page already made it), and the example's own test
 * runs there with the project's Inngest engine.
 */
import assert from "node:assert/strict";
import { freshCopy } from "./support/fresh_copy.ts";
import { REPO_ROOT, shellEnv } from "./support/process.ts";

const PAGE = "docs/extending.md";
const page = await Deno.readTextFile(`${REPO_ROOT}/${PAGE}`);

/** The fenced block that follows the marker `<!-- <kind>: <path> -->`, by path. */
function markedBlocks(kind: "include" | "patch"): Map<string, string> {
  const pattern = new RegExp(
    `<!-- ${kind}: (\\S+) -->\\s*\`\`\`\\w*\\n([\\s\\S]*?)\`\`\`\\n`,
    "g",
  );
  return new Map([...page.matchAll(pattern)].map((m) => [m[1], m[2]]));
}

/**
 * Applies a diff block to `text`: each context line (` ` then the line) must
 * occur exactly once, and the `+` lines after it are inserted below it, in
 * order, unless they are there already (the change was made before).
 * `@@ … @@` lines only separate the places.
 */
export function applyPatch(text: string, diff: string): string {
  const lines = text.split("\n");
  let at = -1;
  let inserted = 0;
  for (const line of diff.trimEnd().split("\n")) {
    if (line.startsWith("@@")) continue;
    if (line.startsWith("+")) {
      assert.ok(at >= 0, `an added line needs a context line above it: ${line}`);
      const position = at + 1 + inserted++;
      if (lines[position] !== line.slice(1)) lines.splice(position, 0, line.slice(1));
    } else if (line.startsWith(" ")) {
      const context = line.slice(1);
      const found = lines.flatMap((l, i) => l === context ? [i] : []);
      assert.equal(found.length, 1, `the context line occurs once: ${context}`);
      at = found[0];
      inserted = 0;
    } else {
      assert.fail(`Cannot read this diff line: ${line}`);
    }
  }
  return lines.join("\n");
}

const EXAMPLE = "docs/examples/provision_account";

Deno.test("docs/extending.md shows the files of docs/examples/ as they are", async () => {
  const included = markedBlocks("include");
  assert.deepEqual([...included.keys()].sort(), [
    `${EXAMPLE}/feature.ts`,
    `${EXAMPLE}/provision_account.ts`,
    `${EXAMPLE}/provision_account_test.ts`,
  ]);
  for (const [path, block] of included) {
    assert.equal(block, await Deno.readTextFile(`${REPO_ROOT}/${path}`), `${PAGE} shows ${path}`);
  }
});

Deno.test("the patch reader inserts below each context line, once, and refuses a missing one", () => {
  const patch = " a\n+x\n+y\n@@ @@\n c\n+z";
  assert.equal(applyPatch("a\nb\nc", patch), "a\nx\ny\nb\nc\nz");
  assert.equal(
    applyPatch(applyPatch("a\nb\nc", patch), patch),
    "a\nx\ny\nb\nc\nz",
    "applied twice",
  );
  assert.throws(() => applyPatch("a\nb", " q\n+x"), /the context line occurs once: q/);
});

/** A file of the example as it is in a reader's project: imports from its new place. */
function asInProject(source: string): string {
  return source.replaceAll('"../../../functions/', '"../').replaceAll(
    '"../../../tests/support/',
    '"./support/',
  );
}

Deno.test("the worked example of docs/extending.md runs, registered as the page says", async () => {
  const patches = markedBlocks("patch");
  assert.deepEqual([...patches.keys()], ["functions/app.ts"]);
  const dir = await freshCopy("clerk-events-extending-");
  try {
    // Step 1 and 2: the folder in functions/, its imports from there.
    await Deno.mkdir(`${dir}/functions/provision_account`, { recursive: true });
    for (const file of ["feature.ts", "provision_account.ts"]) {
      const source = await Deno.readTextFile(`${REPO_ROOT}/${EXAMPLE}/${file}`);
      await Deno.writeTextFile(`${dir}/functions/provision_account/${file}`, asInProject(source));
    }
    // Step 3: one line in the list (left alone if the reader made it already).
    const app = `${dir}/functions/app.ts`;
    await Deno.writeTextFile(
      app,
      applyPatch(await Deno.readTextFile(app), patches.get("functions/app.ts")!),
    );
    // Step 4: the test, in tests/.
    const test = "tests/provision_account_test.ts";
    const source = await Deno.readTextFile(`${REPO_ROOT}/${EXAMPLE}/provision_account_test.ts`);
    await Deno.writeTextFile(`${dir}/${test}`, asInProject(source));
    const run = await new Deno.Command(Deno.execPath(), {
      args: ["test", "--allow-all", "--no-prompt", test],
      cwd: dir,
      clearEnv: true,
      env: { ...shellEnv(), NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(480_000), // type-checking the copy is most of it
    }).output();
    const output = new TextDecoder().decode(run.stdout) + new TextDecoder().decode(run.stderr);
    assert.equal(run.code, 0, `${test} in a copy that followed the page:\n${output}`);
    assert.match(output, /provision-account creates one account per new user \.\.\. ok/);
    assert.match(output, /ok \| 1 passed \(4 steps\)/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
