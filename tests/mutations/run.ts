/**
 * `deno task test:mutations`: applies each deliberate break in `breaks.ts`
 * to a temporary copy of the repository, runs the suites that must catch
 * it, and prints one line per break with the test that caught it.
 *
 * Exits non-zero when a break was not caught, or did not apply because its
 * target text is gone. `--only <text>` runs the breaks whose name contains
 * the text; `--no-baseline` skips the first run of the suites unbroken.
 */
import { fileURLToPath } from "node:url";
import { type Break, BREAKS, type Patch, PRODUCTION_RUNTIME } from "./breaks.ts";
import { ensureProductionDeno } from "../../scripts/production_deno.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
/** Bound on one suite run, so that a break that hangs a test still ends. */
const RUN_TIMEOUT_MS = 10 * 60 * 1000;
/**
 * Environment for every suite run: the copies leave out git-ignored files,
 * so the Deno 2.1 installed under this repository's `.tools/` is named.
 */
const suiteEnv: Record<string, string> = {};

/** The outcome of one run of suites. */
interface SuiteRun {
  readonly ok: boolean;
  /** `name (file)` of each failing test or step. */
  readonly failures: string[];
  readonly output: string;
}

/** Copies the repository's tracked and unignored files into a new temp dir. */
async function copyRepo(): Promise<string> {
  const listed = await new Deno.Command("git", {
    args: ["ls-files", "-z", "--cached", "--others", "--exclude-standard"],
    cwd: ROOT,
    stdout: "piped",
  }).output();
  if (!listed.success) throw new Error("Cannot list the repository's files with git ls-files");
  const dir = await Deno.makeTempDir({ prefix: "clerk-events-mutation-" });
  for (const file of new TextDecoder().decode(listed.stdout).split("\0").filter(Boolean)) {
    const from = `${ROOT}${file}`;
    try {
      await Deno.stat(from);
    } catch {
      continue; // deleted in the work tree
    }
    const to = `${dir}/${file}`;
    await Deno.mkdir(to.slice(0, to.lastIndexOf("/")), { recursive: true });
    await Deno.copyFile(from, to);
  }
  return dir;
}

/** Applies `patch` in `dir`; throws "break did not apply" unless its text occurs once. */
async function apply(dir: string, name: string, patch: Patch): Promise<void> {
  const path = `${dir}/${patch.file}`;
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch {
    throw new Error(`Break did not apply: "${name}": ${patch.file} does not exist`);
  }
  const found = text.split(patch.find).length - 1;
  if (found !== 1) {
    throw new Error(
      `Break did not apply: "${name}": its target text occurs ${found} times in ${patch.file} ` +
        `(expected once):\n${patch.find}`,
    );
  }
  await Deno.writeTextFile(path, text.replace(patch.find, () => patch.replace));
}

/** Runs `suites` in `dir` and collects the failing tests. */
async function runSuites(
  dir: string,
  suites: readonly string[],
  env: Readonly<Record<string, string>> = {},
): Promise<SuiteRun> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["test", "--allow-all", "--no-prompt", ...suites],
    cwd: dir,
    env: { ...suiteEnv, ...env, NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), RUN_TIMEOUT_MS);
  const result = await child.output();
  clearTimeout(timer);
  const output = new TextDecoder().decode(result.stdout) +
    new TextDecoder().decode(result.stderr);
  const section = output.split(/^\s*FAILURES\s*$/m)[1] ?? "";
  const failures = [...section.matchAll(/^(.+?) => \.\/(\S+?):\d+:\d+$/gm)]
    .map(([, name, file]) => `"${name.trim()}" (${file})`);
  return { ok: result.success, failures, output };
}

async function withCopy<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await copyRepo();
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Applies `item` to a fresh copy, runs its suites, and describes the outcome. */
async function tryBreak(item: Break): Promise<{ caught: boolean; line: string }> {
  return await withCopy(async (dir) => {
    for (const patch of item.patches) await apply(dir, item.name, patch);
    const started = performance.now();
    const run = await runSuites(dir, item.suites, item.env);
    const seconds = ((performance.now() - started) / 1000).toFixed(0);
    if (run.ok) {
      return { caught: false, line: `MISSED  ${item.name}: ${item.suites.join(", ")} passed` };
    }
    if (!run.failures.length) {
      const tail = run.output.trim().split("\n").slice(-15).join("\n");
      return {
        caught: false,
        line: `MISSED  ${item.name}: the run failed without a failing test:\n${tail}`,
      };
    }
    const more = run.failures.length > 1 ? ` (+${run.failures.length - 1} more)` : "";
    return {
      caught: true,
      line: `caught  ${item.name} <- ${run.failures[0]}${more} [${seconds} s]`,
    };
  });
}

async function main(): Promise<number> {
  const only = Deno.args.includes("--only") ? Deno.args[Deno.args.indexOf("--only") + 1] : "";
  const breaks = BREAKS.filter((b) => b.name.includes(only));
  if (!breaks.length) throw new Error(`Cannot find a break whose name contains "${only}"`);
  if (breaks.some((b) => b.suites.includes(PRODUCTION_RUNTIME))) {
    suiteEnv.PRODUCTION_DENO = await ensureProductionDeno((line) => console.log(line));
  }

  if (!Deno.args.includes("--no-baseline")) {
    const suites = [...new Set(breaks.flatMap((b) => b.suites))];
    const env = Object.assign({}, ...breaks.map((b) => b.env ?? {}));
    const baseline = await withCopy((dir) => runSuites(dir, suites, env));
    if (!baseline.ok) {
      console.error(`The suites fail without any break:\n${baseline.output}`);
      return 1;
    }
    console.log(`baseline: ${suites.join(", ")} pass unbroken`);
  }

  let missed = 0;
  for (const item of breaks) {
    try {
      const outcome = await tryBreak(item);
      if (!outcome.caught) missed += 1;
      console.log(outcome.line);
    } catch (error) {
      missed += 1;
      console.log(`ERROR   ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  console.log(`${breaks.length - missed} of ${breaks.length} breaks caught`);
  return missed ? 1 : 0;
}

Deno.exit(await main());
