/**
 * A fresh copy of the repository, as a clone has it: the tracked files (and
 * new ones not yet committed, unless ignored), and no `.env`.
 */
import assert from "node:assert/strict";
import { REPO_ROOT } from "./process.ts";

/** Copies what a clone holds into a new temporary directory and returns its path. */
export async function freshCopy(prefix = "clerk-events-copy-"): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix });
  const list = await new Deno.Command("git", {
    args: ["ls-files", "-z", "--cached", "--others", "--exclude-standard"],
    cwd: REPO_ROOT,
    stdout: "piped",
  }).output();
  const files = new TextDecoder().decode(list.stdout).split("\0").filter(Boolean);
  for (const file of files) {
    const from = `${REPO_ROOT}/${file}`;
    const to = `${dir}/${file}`;
    try {
      await Deno.mkdir(to.slice(0, to.lastIndexOf("/")), { recursive: true });
      await Deno.copyFile(from, to);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error; // deleted, not yet committed
    }
  }
  assert.ok(!files.includes(".env"), "a clone has no .env");
  return dir;
}
