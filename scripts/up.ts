/**
 * `deno task up`: the whole local loop in one command.
 *
 * 1. When Docker runs, the local Supabase stack (`supabase start`) and the
 *    migrations (`supabase migration up --local`), with the pinned CLI.
 *    Without Docker it says so in one line and uses SUPABASE_URL from `.env`
 *    (a hosted project, see docs/local-development.md#without-docker).
 * 2. The Inngest Dev Server (pinned `inngest-cli`), pointed at the function.
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
import { withoutEnvFile } from "./env_file.ts";
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
 * What `deno task up` says when the Inngest Dev Server exits on its own:
 * where its binary comes from, and the command that shows the install's error.
 */
export const INNGEST_EXIT_HINT = `${INNGEST_CLI}'s npm package downloads the Inngest binary ` +
  "from GitHub when it is first installed; where that download fails, npx exits without " +
  `saying why. To see the error, run: ${inngestInstallCheckCommand()}`;

function spawn(name: string, command: string, args: string[], env: Record<string, string>): Child {
  try {
    return spawnChild({ name, command, args, env, cwd: REPO_ROOT });
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
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

  const docker = await dockerRuns();
  if (docker === "running") {
    say(`Docker runs: starting the local Supabase stack (${SUPABASE_CLI})`);
    await step("supabase", ["--yes", SUPABASE_CLI, "start"], processEnv);
    await step("supabase", ["--yes", SUPABASE_CLI, "migration", "up", "--local"], processEnv);
  } else {
    say(
      `Docker is ${docker === "absent" ? "not installed" : "not running"}: ` +
        "skipping the local Supabase stack; the function uses SUPABASE_URL from .env " +
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

  say(`Starting the Inngest Dev Server (${INNGEST_CLI}) for ${serveUrl}`);
  const devServer = run("inngest", "npx", [
    "--yes",
    INNGEST_CLI,
    "dev",
    "--no-discovery",
    "-u",
    serveUrl,
  ]);
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
    const hint = early.child === devServer ? INNGEST_EXIT_HINT : undefined;
    for (const line of earlyExitReport(early.child, early.status, hint)) say(line);
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
