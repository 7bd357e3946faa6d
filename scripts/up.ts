/**
 * `deno task up`: the whole local loop in one command.
 *
 * 1. When Docker runs, the local Supabase stack (`supabase start`) and the
 *    migrations (`supabase migration up --local`), with the pinned CLI.
 *    Without Docker it says so in one line and uses SUPABASE_URL from `.env`
 *    or the shell (a hosted project, see docs/local-development.md#without-docker).
 * 2. The Inngest Dev Server, pointed at the function: an Inngest CLI already
 *    installed (the binary `INNGEST_CLI_PATH` names, or `inngest` on PATH),
 *    else the pinned `inngest-cli` through npx.
 * 3. The function, exactly as `deno task dev` runs it.
 *
 * Every line a process prints is prefixed with its name. Ctrl+C (SIGINT) or
 * SIGTERM stops them all; when one of them exits, the others are stopped,
 * and its last lines are printed again at the end, with what to know about
 * that program (the Inngest CLI's binary comes from GitHub on first install).
 * A missing prerequisite gets one line that says what to install.
 */
import {
  INNGEST_CLI,
  inngestInstallCheckCommand,
  SUPABASE_CLI,
} from "../functions/health/local_tools.ts";
import { eventApiUrl } from "../functions/inngest/client.ts";
import { parseSettings } from "../functions/settings.ts";
import { routeUrl } from "./banner.ts";
import { parsePort } from "./dev.ts";
import { ENV_FILE, envFileNote, withoutEnvFile } from "./env_file.ts";
import { type Child, earlyExitReport, spawnChild } from "./children.ts";

const REPO_ROOT = new URL("../", import.meta.url);

/** How long the function's start waits for the Dev Server to answer. */
const DEV_SERVER_WAIT_MS = 30_000;

/** Thrown for a missing prerequisite or a failed step: one line, exit 1. */
class UpError extends Error {
  override name = "UpError";
}

const encoder = new TextEncoder();
const say = (line: string) => Deno.stdout.writeSync(encoder.encode(`[up] ${line}\n`));

/**
 * What `deno task up` says when the Inngest Dev Server it started through npx
 * exits on its own: where its binary comes from, and the command that shows
 * the install's error.
 */
export const INNGEST_EXIT_HINT = `${INNGEST_CLI}'s npm package downloads the Inngest binary ` +
  "from GitHub when it is first installed; where that download fails, npx exits without " +
  `saying why. To see the error, run: ${inngestInstallCheckCommand()}`;

/** The setting naming an Inngest CLI binary that is already installed. */
export const INNGEST_CLI_PATH = "INNGEST_CLI_PATH";

/** What still works without the Dev Server, and how to use a binary of one's own. */
export const WITHOUT_INNGEST_HINT = [
  "Without the Dev Server, deno task dev alone still serves every route (/health says what is " +
  "missing); a webhook then gets 502 inngest_unreachable, since nothing accepts its event.",
  `To use an Inngest CLI you already have, put its inngest binary on PATH or set ` +
  `${INNGEST_CLI_PATH}=/path/to/inngest (in ${ENV_FILE} or the shell); see ` +
  "docs/local-development.md#without-the-inngest-dev-server",
];

/** How the Inngest Dev Server is started, and where its binary came from. */
export interface InngestCommand {
  readonly command: string;
  readonly args: string[];
  /** For the start line, e.g. `inngest on PATH (/usr/local/bin/inngest)`. */
  readonly source: string;
  /** Whether it is the pinned npm package run through npx. */
  readonly npx: boolean;
}

/**
 * The Dev Server's command for `serveUrl`: the binary `INNGEST_CLI_PATH`
 * names, else `inngest` on PATH, else the pinned npm package through npx.
 * Throws UpError when `INNGEST_CLI_PATH` names no executable file.
 */
export function inngestCommand(env: Record<string, string>, serveUrl: string): InngestCommand {
  const args = ["dev", "--no-discovery", "-u", serveUrl];
  const named = env[INNGEST_CLI_PATH]?.trim();
  if (named) {
    if (!isExecutable(named)) {
      throw new UpError(
        `Cannot start inngest: ${INNGEST_CLI_PATH} names ${named}, which is not an executable ` +
          "file; point it at the inngest binary, or unset it to use npx",
      );
    }
    return { command: named, args, source: `${named} (${INNGEST_CLI_PATH})`, npx: false };
  }
  for (const dir of (env.PATH ?? "").split(":").filter(Boolean)) {
    const candidate = `${dir}/inngest`;
    if (isExecutable(candidate)) {
      return { command: candidate, args, source: `inngest on PATH (${candidate})`, npx: false };
    }
  }
  return { command: "npx", args: ["--yes", INNGEST_CLI, ...args], source: INNGEST_CLI, npx: true };
}

function isExecutable(path: string): boolean {
  try {
    const info = Deno.statSync(path);
    return info.isFile && ((info.mode ?? 0o111) & 0o111) !== 0;
  } catch {
    return false;
  }
}

function spawn(name: string, command: string, args: string[], env: Record<string, string>): Child {
  try {
    return spawnChild({ name, command, args, env, cwd: REPO_ROOT });
  } catch (error) {
    if (error instanceof Deno.errors.NotFound && command === "npx") {
      throw new UpError(
        `Cannot start ${name}: ${command} is not on PATH; ` +
          "install Node.js 18 or later (it ships npx), then run deno task up again",
      );
    }
    throw error;
  }
}

/** Whether a Docker daemon answers (`docker info`). */
async function dockerRuns(): Promise<"running" | "stopped" | "absent"> {
  try {
    const { success } = await new Deno.Command("docker", {
      args: ["info"],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).output();
    return success ? "running" : "stopped";
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return "absent";
    throw error;
  }
}

/** Runs one step to its end; throws UpError when it fails. */
async function step(name: string, args: string[], env: Record<string, string>): Promise<void> {
  const child = spawn(name, "npx", args, env);
  const status = await child.done;
  if (!status.success) {
    throw new UpError(`Cannot continue: ${name} exited with code ${status.code} (see above)`);
  }
}

/**
 * Waits until the Dev Server answers at `url`, so that the function's banner
 * finds it, or until it exits or DEV_SERVER_WAIT_MS pass; says which.
 */
async function untilAnswers(url: string, devServer: Child): Promise<void> {
  let exited = false;
  devServer.done.then(() => exited = true);
  say(`Waiting for the Inngest Dev Server at ${url} (up to ${DEV_SERVER_WAIT_MS / 1000} s)`);
  const deadline = Date.now() + DEV_SERVER_WAIT_MS;
  while (!exited && Date.now() < deadline) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1_000) });
      await res.body?.cancel();
      say(`The Inngest Dev Server answers at ${url}`);
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  if (!exited) say(`No answer from the Inngest Dev Server at ${url}: starting the function anyway`);
}

/** The `deno task dev` command line from deno.json, run with this deno. */
async function devCommand(): Promise<string[]> {
  const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", REPO_ROOT)));
  const [, ...args] = String(config.tasks.dev).split(/\s+/);
  // The function gets this process's environment, .env included, whole.
  return withoutEnvFile(args);
}

async function main(): Promise<number> {
  const processEnv = Deno.env.toObject();
  const port = parsePort(processEnv.PORT);
  const serveUrl = routeUrl(`http://127.0.0.1:${port}`, "inngest");

  say(await envFileNote());
  // Before anything starts: a wrong INNGEST_CLI_PATH stops here, in one line.
  const inngestCli = inngestCommand(processEnv, serveUrl);
  const docker = await dockerRuns();
  if (docker === "running") {
    say(`Docker runs: starting the local Supabase stack (${SUPABASE_CLI})`);
    await step("supabase", ["--yes", SUPABASE_CLI, "start"], processEnv);
    await step("supabase", ["--yes", SUPABASE_CLI, "migration", "up", "--local"], processEnv);
  } else {
    const where = await Deno.stat(new URL(ENV_FILE, REPO_ROOT)).then(
      () => `from ${ENV_FILE} or the shell`,
      () => `from the shell (there is no ${ENV_FILE})`,
    );
    say(
      `Docker is ${docker === "absent" ? "not installed" : "not running"}: ` +
        `skipping the local Supabase stack; the function uses SUPABASE_URL ${where} ` +
        "(docs/local-development.md#without-docker)",
    );
  }

  const children: Child[] = [];
  /** The child that exited on its own, which stopped the others. */
  let early: { child: Child; status: Deno.CommandStatus } | undefined;
  let stopping = false;
  let interrupted = false;
  let allStopped: () => void = () => {};
  const stopped = new Promise<void>((resolve) => allStopped = resolve);
  const stopAll = async (reason: string) => {
    if (stopping) return;
    stopping = true;
    say(`${reason}: stopping ${children.map((c) => c.name).join(" and ")}`);
    for (const child of children) {
      try {
        child.process.kill("SIGTERM");
      } catch { /* already gone */ }
    }
    const killer = setTimeout(() => {
      for (const child of children) {
        try {
          child.process.kill("SIGKILL");
        } catch { /* already gone */ }
      }
    }, 10_000);
    await Promise.all(children.map((c) => c.done));
    clearTimeout(killer);
    allStopped();
  };
  const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
  for (const signal of signals) {
    Deno.addSignalListener(signal, () => {
      interrupted = true;
      stopAll(`Received ${signal}`);
    });
  }
  /** Starts a long-running child; when it exits, the others are stopped. */
  const run = (name: string, command: string, args: string[]) => {
    const child = spawn(name, command, args, processEnv);
    children.push(child);
    child.done.then((status) => {
      if (!stopping) early = { child, status };
      stopAll(`${name} exited with code ${status.code}`);
    });
    return child;
  };

  say(`Starting the Inngest Dev Server (${inngestCli.source}) for ${serveUrl}`);
  const devServer = run("inngest", inngestCli.command, inngestCli.args);
  const inngest = parseSettings(processEnv).inngest;
  if (inngest.ok && inngest.value.mode === "dev") {
    await untilAnswers(eventApiUrl(inngest.value), devServer);
  }
  if (!stopping) {
    say("Starting the function (deno task dev)");
    const args = await devCommand();
    // The Dev Server may have exited meanwhile: a function started now
    // would outlive this process.
    if (!stopping) run("function", Deno.execPath(), args);
  }
  await stopped;
  if (early) {
    const fromNpx = early.child === devServer && inngestCli.npx;
    const hint = fromNpx ? INNGEST_EXIT_HINT : undefined;
    for (const line of earlyExitReport(early.child, early.status, hint)) say(line);
    if (early.child === devServer) { for (const line of WITHOUT_INNGEST_HINT) say(line); }
  }
  say("Stopped");
  return interrupted ? 0 : 1;
}

if (import.meta.main) {
  try {
    Deno.exit(await main());
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    Deno.exit(1);
  }
}
