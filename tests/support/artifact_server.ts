/**
 * Runs an entrypoint file as a server process the way the edge runtime runs
 * the deployed function: the file unchanged, no deno.json or import map, the
 * settings in the environment, and `Deno.serve` pointed at a free loopback
 * port by `serve_on_port.ts`; on the Deno in PATH, or on another binary
 * (Deno 2.1, what Supabase runs: see `scripts/production_deno.ts`).
 */
import { dirname } from "node:path";
import { freePort, start } from "./process.ts";

const SERVE_ON_PORT = new URL("./serve_on_port.ts", import.meta.url).pathname;
const STARTUP_TIMEOUT_MS = 20_000;

/** Which Deno runs an entrypoint. */
export interface Runtime {
  /** The binary. Default: the Deno running this process. */
  readonly deno?: string;
  /** What that binary needs in its environment (for 2.1: `productionDenoEnv()`). */
  readonly env?: Record<string, string>;
}

/** A running entrypoint. */
export interface EntrypointServer {
  /** `http://127.0.0.1:<port>`. */
  readonly origin: string;
  /** Everything it wrote to stdout and stderr so far. */
  output(): string;
  /** Stops it (SIGTERM, SIGKILL after 5 s) and waits for the exit. */
  stop(): Promise<void>;
}

/**
 * The `deno run` arguments that serve `entry` on `PORT`: with no deno.json
 * (a built artifact needs none), or with `config` (a source entrypoint).
 */
export function entrypointArgs(entry: string, config?: string): string[] {
  return [
    "run",
    "--allow-net",
    "--allow-env",
    "--allow-read",
    "--allow-sys",
    ...(config ? ["--config", config] : ["--no-config", "--no-lock"]),
    SERVE_ON_PORT,
    entry,
  ];
}

/**
 * Starts `entry` on `runtime` with exactly `env` (plus PATH and HOME) and
 * waits until `healthPath` answers, whatever the status.
 */
export async function startEntrypoint(
  entry: string,
  env: Record<string, string | undefined>,
  runtime: Runtime = {},
  healthPath = "/clerk-events/health",
): Promise<EntrypointServer> {
  const port = freePort();
  const childEnv: Record<string, string> = {
    PATH: Deno.env.get("PATH") ?? "",
    HOME: Deno.env.get("HOME") ?? "",
    NO_COLOR: "1",
    ...runtime.env,
    PORT: String(port),
  };
  for (const [name, value] of Object.entries(env)) if (value !== undefined) childEnv[name] = value;
  const deno = runtime.deno ?? Deno.execPath();
  const child = start(deno, entrypointArgs(entry), childEnv, dirname(entry));
  const server: EntrypointServer = {
    origin: `http://127.0.0.1:${port}`,
    output: child.output,
    stop: async () => {
      await child.stop();
    },
  };

  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  while (true) {
    try {
      const res = await fetch(server.origin + healthPath);
      await res.body?.cancel();
      return server;
    } catch {
      if (child.exited() || Date.now() > deadline) {
        await server.stop();
        throw new Error(`Cannot start ${entry}: no answer on ${server.origin}\n${child.output()}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}
