/**
 * `deno task dev`: serves the whole function locally, the way Supabase would,
 * at `http://127.0.0.1:8930/functions/v1/clerk-events/{webhook,inngest,health}`.
 * The port is not the Supabase stack's (54321 to 54324 and their neighbours)
 * nor the Inngest Dev Server's (8288, 8289), so all three run side by side.
 *
 * The task runs with `--env-file=.env`: Deno loads the repo's `.env` (if
 * there is one) under the process environment, so a variable exported in the
 * shell wins over the file. The tests run this script without the flag, so
 * that a developer's `.env` cannot leak into them. `PORT` changes the port
 * (default 8930).
 *
 * The server stops cleanly on SIGINT (Ctrl+C) and SIGTERM.
 */
import { type App, createApp } from "../functions/app.ts";
import { eventApiUrl } from "../functions/inngest/client.ts";
import { createLogger, type Logger } from "../functions/util/log.ts";
import { formatBanner, routeUrl } from "./banner.ts";
import { envFileNote } from "./env_file.ts";

/** The port `deno task dev` listens on without `PORT`. */
export const DEFAULT_PORT = 8930;

const HOSTNAME = "127.0.0.1";

/** The port named by `PORT`, or the default. Throws RangeError naming PORT. */
export function parsePort(raw: string | undefined): number {
  if (raw === undefined || raw.trim() === "") return DEFAULT_PORT;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`Cannot start the dev server: PORT must be a number from 0 to 65535`);
  }
  return port;
}

/** The start-up log line whose problems the banner lists, one per line. */
const SETTINGS_LINE = '"msg":"Invalid settings"';

/**
 * The app's logger for `deno task dev`: JSON lines, as deployed, except the
 * start-up line naming every invalid setting at once (over a thousand
 * characters on a machine without `.env`), since the banner printed right
 * after it lists the same problems one per line. Call `started()` once the
 * app is built: from then on every line is written.
 */
export function devLogger(
  write: (level: string, line: string) => void = (level, line) =>
    level === "error"
      ? console.error(line)
      : level === "warn"
      ? console.warn(line)
      : console.log(line),
): { logger: Logger; started(): void } {
  let starting = true;
  const logger = createLogger({
    sink: (level, line) => {
      if (starting && line.includes(SETTINGS_LINE)) return;
      write(level, line);
    },
  });
  return { logger, started: () => void (starting = false) };
}

async function main(): Promise<void> {
  const env = Deno.env.toObject();
  const note = await envFileNote();
  const port = parsePort(env.PORT);
  let app: App | undefined;
  let ready: (origin: string) => void = () => {};
  const listening = new Promise<string>((resolve) => ready = resolve);

  let server: Deno.HttpServer;
  try {
    server = Deno.serve({
      hostname: HOSTNAME,
      port,
      onListen: ({ port }) => {
        const origin = `http://${HOSTNAME}:${port}`;
        const { logger, started } = devLogger();
        app = createApp(env, { devServeUrl: routeUrl(origin, "inngest"), logger });
        started();
        ready(origin);
      },
    }, (req) => app!.handler(req));
  } catch (error) {
    if (error instanceof Deno.errors.AddrInUse) {
      throw new Error(
        `Cannot start the dev server: port ${port} is in use; ` +
          `set PORT to a free port, e.g. PORT=${port + 1} deno task dev`,
      );
    }
    throw error;
  }

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

  const origin = await listening;
  const settings = app!.settings;
  const readiness = await app!.readiness();
  const devServerUrl = settings.inngest.ok ? eventApiUrl(settings.inngest.value) : undefined;
  console.error(
    formatBanner({
      origin,
      settings,
      readiness,
      devServerUrl,
      envNote: note,
      routes: app!.routes,
    }) + "\n",
  );

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
