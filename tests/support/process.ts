/**
 * Child processes for the tests of the command-line tasks: their output,
 * bounded waits, and a stop that always ends them.
 */
import { fileURLToPath } from "node:url";
import { SETTING_NAMES } from "../../functions/settings.ts";
import { scanLogText } from "./env.ts";
import { withoutEnvFile } from "../../scripts/env_file.ts";

/** The repository the tests run in. */
export const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** A running child process. */
export interface Running {
  /** Everything it wrote to stdout and stderr so far. */
  output(): string;
  readonly pid: number;
  /** Resolves when it exits. */
  readonly status: Promise<Deno.CommandStatus>;
  /** Whether it has exited. */
  exited(): boolean;
  /** Sends `signal` and waits for the exit; SIGKILL if it takes over 10 s. */
  stop(signal?: Deno.Signal): Promise<Deno.CommandStatus>;
}

/**
 * Starts `command` with exactly `env`, in `cwd` (default: the repository).
 * Everything it prints goes through the log scan when it exits.
 */
export function start(
  command: string,
  args: string[],
  env: Record<string, string>,
  cwd = REPO_ROOT,
): Running {
  const child = new Deno.Command(command, {
    args,
    cwd,
    clearEnv: true,
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let output = "";
  const drain = (stream: ReadableStream<Uint8Array>) =>
    stream.pipeThrough(new TextDecoderStream()).pipeTo(
      new WritableStream({ write: (chunk) => void (output += chunk) }),
    );
  const drained = Promise.all([drain(child.stdout), drain(child.stderr)]);
  let exited = false;
  const status = child.status.then(async (s) => {
    exited = true;
    await drained;
    scanLogText(output, [command.split("/").pop(), ...args.slice(0, 2)].join(" "));
    return s;
  });
  return {
    output: () => output,
    pid: child.pid,
    status,
    exited: () => exited,
    stop: async (signal = "SIGTERM") => {
      if (!exited) child.kill(signal);
      const timer = setTimeout(() => !exited && child.kill("SIGKILL"), 10_000);
      try {
        return await status;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/** Waits until `check` is true, at most `timeoutMs`, or throws saying what it waited for. */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 20_000,
  context: () => string = () => "",
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) {
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}\n${context()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** A free loopback port (free when this returns). */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  listener.close();
  return port;
}

/** The command line of `deno task <name>` from deno.json, without the leading `deno`. */
export async function taskArgs(name: string): Promise<string[]> {
  const config = JSON.parse(await Deno.readTextFile(`${REPO_ROOT}/deno.json`));
  const [deno, ...args] = String(config.tasks[name]).split(/\s+/);
  if (deno !== "deno") throw new Error(`Task ${name} does not start with deno`);
  // Without --env-file: a developer's .env must not leak into the tests.
  return withoutEnvFile(args);
}

/** Whether process `pid` is still alive. */
export function alive(pid: number): boolean {
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}

/** The environment of this process without the app's settings: what a new user's shell has. */
export function shellEnv(): Record<string, string> {
  const names = new Set<string>([...SETTING_NAMES, "PORT"]);
  return Object.fromEntries(
    Object.entries(Deno.env.toObject()).filter(([name]) => !names.has(name)),
  );
}
