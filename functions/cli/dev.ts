/**
 * `deno task dev`: serves the whole function locally, the way Supabase would,
 * at `http://127.0.0.1:54321/functions/v1/clerk-events/{webhook,inngest,health}`.
 *
 * The environment is the repo's `.env` (if there is one) with the process
 * environment on top, so a variable exported in the shell wins over the file.
 * `CLERK_EVENTS_ENV_FILE` names another file; set it to an empty string to
 * read no file at all, as the tests do so that a developer's `.env` cannot
 * leak into them. `PORT` changes the port (default 54321).
 *
 * The server stops cleanly on SIGINT (Ctrl+C) and SIGTERM.
 */
import { createApp } from "../app.ts";
import { formatBanner } from "./banner.ts";
import { loadEnv } from "./dotenv.ts";

/** The port `deno task dev` listens on without `PORT`, the Supabase CLI's. */
export const DEFAULT_PORT = 54321;

const HOSTNAME = "127.0.0.1";

function parsePort(raw: string | undefined): number {
  if (raw === undefined || raw.trim() === "") return DEFAULT_PORT;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`Cannot start the dev server: PORT must be a number from 0 to 65535`);
  }
  return port;
}

async function main(): Promise<void> {
  const { env, note } = await loadEnv(Deno.env.toObject(), new URL("../../.env", import.meta.url));
  const port = parsePort(env.PORT);
  const app = createApp(env);

  const server = Deno.serve({
    hostname: HOSTNAME,
    port,
    onListen: ({ port }) => {
      const origin = `http://${HOSTNAME}:${port}`;
      console.error(formatBanner({ origin, settings: app.settings, envNote: note }) + "\n");
    },
  }, app.handler);

  let stopping = false;
  const stop = (signal: Deno.Signal) => {
    if (stopping) return;
    stopping = true;
    console.error(`\nReceived ${signal}: stopping the dev server`);
    server.shutdown();
  };
  const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
  const listeners = signals.map((signal) => {
    const listener = () => stop(signal);
    Deno.addSignalListener(signal, listener);
    return [signal, listener] as const;
  });

  await server.finished;
  for (const [signal, listener] of listeners) Deno.removeSignalListener(signal, listener);
}

if (import.meta.main) {
  try {
    await main();
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    Deno.exit(1);
  }
}
