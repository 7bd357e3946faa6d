/**
 * Benchmark servers as subprocesses on loopback ports: spawn, wait until
 * they answer, read their peak memory, and stop them.
 */

/** The repository root, where deno.json and its import map live. */
export const REPO_ROOT = new URL("../../", import.meta.url);

/** A server script under `tests/bench/servers/`. */
export type ServerName =
  | "ours"
  | "peer"
  | "bare_forwarder"
  | "floor"
  | "event_api"
  | "me_sync_backends";

/** A running server subprocess. */
export interface Server {
  readonly name: ServerName;
  /** The name in progress lines: the script's, or the one given to spawnServer. */
  readonly label: string;
  readonly pid: number;
  readonly url: string;
  /** Peak resident memory so far in MB (VmHWM), from /proc. */
  peakRssMb(): Promise<number>;
  /** Resident memory now in MB (VmRSS), from /proc. */
  rssMb(): Promise<number>;
  /** CPU time used so far (user + system, all threads) in ms, from /proc. */
  cpuMs(): Promise<number>;
  /** Sends SIGTERM (SIGKILL after a second) and waits for the exit. */
  stop(): Promise<void>;
}

const running = new Set<Server>();

/** A free TCP port on 127.0.0.1. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/**
 * The `--v8-flags=...` arguments of the `dev` task in deno.json: the app is
 * benchmarked with the V8 settings a user runs it with, never others.
 */
export async function devV8Flags(): Promise<string[]> {
  const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", REPO_ROOT)));
  return String(config.tasks.dev).split(/\s+/).filter((arg) => arg.startsWith("--v8-flags="));
}

const OURS_V8_FLAGS = await devV8Flags();

/** Options for {@link spawnServer}. */
export interface SpawnOptions {
  readonly args?: string[];
  readonly env?: Record<string, string>;
  /**
   * V8 flags; default: the dev task's for "ours" and "peer" (compared under
   * the same heap caps), none for the others. `[]` runs without any.
   */
  readonly v8Flags?: readonly string[];
  readonly label?: string;
  /**
   * Start from an empty environment (plus what Deno itself needs) instead of
   * the bench's own: the Inngest SDK reads the whole environment on every
   * send, so figures would depend on the shell the bench runs in.
   */
  readonly clearEnv?: boolean;
}

/** What a Deno process needs from the environment to find its caches. */
const DENO_ENV = Object.fromEntries(
  ["HOME", "PATH", "DENO_DIR", "XDG_CACHE_HOME"]
    .map((name) => [name, Deno.env.get(name)])
    .filter((entry): entry is [string, string] => entry[1] !== undefined),
);

/**
 * Spawns `tests/bench/servers/<name>.ts` with the port as its first argument
 * and `args` after it. Returns at once; see {@link waitUntilAnswering}.
 */
export function spawnServer(name: ServerName, options: SpawnOptions = {}): Server {
  const port = freePort();
  const script = new URL(`servers/${name}.ts`, import.meta.url).pathname;
  return spawnProcess(name, options.label ?? name, port, Deno.execPath(), [
    "run",
    "--allow-all",
    "--no-prompt",
    "--quiet",
    "--config",
    new URL("deno.json", REPO_ROOT).pathname,
    // "ours" runs as `deno task dev` runs it, and the peer under the same
    // heap caps; the other baselines use defaults.
    ...(options.v8Flags ?? (name === "ours" || name === "peer" ? OURS_V8_FLAGS : [])),
    script,
    String(port),
    ...(options.args ?? []),
  ], {
    env: options.clearEnv ? { ...DENO_ENV, ...options.env } : options.env,
    clearEnv: options.clearEnv,
  });
}

/** Options for {@link spawnArtifact}. */
export interface ArtifactOptions {
  /** The built entry file (`deno task build`'s `index.js`, or a bundled baseline). */
  readonly entry: string;
  /** "ours" or "peer": the servers of the same name built; names the V8 flags' default. */
  readonly name: "ours" | "peer";
  readonly label: string;
  /** The Deno binary; default the one running the bench. */
  readonly deno?: string;
  /** What that binary needs in its environment (Deno 2.1: `productionDenoEnv()`). */
  readonly denoEnv?: Record<string, string>;
  /** The settings; nothing else of the bench's environment is passed on. */
  readonly env: Record<string, string>;
  /** Default: the dev task's, as for "ours" and "peer" from source. */
  readonly v8Flags?: readonly string[];
}

const SERVE_ON_PORT = new URL("../support/serve_on_port.ts", import.meta.url).pathname;

/**
 * Spawns a built entry file the way the edge runtime runs it: no deno.json,
 * no lock file, `Deno.serve` pointed at a free port (`serve_on_port.ts`).
 */
export function spawnArtifact(options: ArtifactOptions): Server {
  const port = freePort();
  return spawnProcess(options.name, options.label, port, options.deno ?? Deno.execPath(), [
    "run",
    "--allow-all",
    "--no-prompt",
    "--quiet",
    "--no-config",
    "--no-lock",
    ...(options.v8Flags ?? OURS_V8_FLAGS),
    SERVE_ON_PORT,
    options.entry,
  ], {
    env: { ...DENO_ENV, ...options.denoEnv, ...options.env, PORT: String(port) },
    clearEnv: true,
  });
}

function spawnProcess(
  name: ServerName,
  label: string,
  port: number,
  command: string,
  args: string[],
  environment: { env?: Record<string, string>; clearEnv?: boolean },
): Server {
  const child = new Deno.Command(command, {
    args,
    cwd: REPO_ROOT.pathname,
    env: environment.env,
    clearEnv: environment.clearEnv,
    stdin: "null",
    // The app logs one JSON line per webhook, as in production; the lines
    // are written, then dropped.
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stderr = collectTail(child.stderr);
  const server: Server = {
    name,
    label,
    pid: child.pid,
    url: `http://127.0.0.1:${port}`,
    peakRssMb: () => procStatusMb(child.pid, "VmHWM"),
    rssMb: () => procStatusMb(child.pid, "VmRSS"),
    cpuMs: async () => {
      // Fields after the command name; utime and stime are the 12th and
      // 13th, in clock ticks of 10 ms on Linux.
      const stat = await Deno.readTextFile(`/proc/${child.pid}/stat`);
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      return (Number(fields[11]) + Number(fields[12])) * 10;
    },
    stop: async () => {
      running.delete(server);
      try {
        child.kill("SIGTERM");
      } catch {
        // Already gone.
      }
      const forced = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch {
          // Already gone.
        }
      }, 1000);
      await child.status;
      clearTimeout(forced);
      await stderr;
    },
  };
  child.status.then((status) => {
    if (running.has(server)) {
      stderr.then((tail) =>
        console.error(`${label} exited early with code ${status.code}: ${tail.trim()}`)
      );
    }
  });
  running.add(server);
  return server;
}

/** Stops every server still running; for `finally` blocks and timeouts. */
export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((server) => server.stop()));
}

/**
 * Sends `request()` until it answers 2xx, retrying while the port is not
 * open yet (every 2 ms). Returns the milliseconds since `since`.
 */
export async function waitUntilAnswering(
  request: () => Promise<Response>,
  since: number,
  timeoutMs = 15_000,
): Promise<number> {
  const deadline = since + timeoutMs;
  let last = "no answer";
  while (performance.now() < deadline) {
    try {
      const res = await request();
      await res.body?.cancel();
      if (res.ok) return performance.now() - since;
      last = `status ${res.status}`;
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
    }
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  throw new Error(`Cannot reach the server within ${timeoutMs} ms: ${last}`);
}

/** A memory figure of /proc/<pid>/status, in MB. */
async function procStatusMb(pid: number, field: "VmHWM" | "VmRSS"): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const kb = Number(status.match(new RegExp(`^${field}:\\s+(\\d+) kB`, "m"))?.[1]);
  return kb / 1024;
}

/** Reads a stream to its end, keeping its last 4 KB of text. */
async function collectTail(stream: ReadableStream<Uint8Array>): Promise<string> {
  let tail = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    tail = (tail + chunk).slice(-4096);
  }
  return tail;
}
