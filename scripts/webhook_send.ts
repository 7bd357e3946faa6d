/**
 * `deno task webhook:send`: signs Clerk webhook payloads the way Svix does
 * and POSTs them to the function, to try it locally without Clerk.
 *
 * The secret comes from `--secret`, or else from CLERK_WEBHOOK_SIGNING_SECRET
 * in the environment, which the task loads from the repo's `.env`
 * (`--env-file`). Secrets are never printed.
 *
 * A `--file` payload is sent as it is, except that `--user-id` replaces
 * `data.id`. Built-in payloads get a new user id per delivery unless
 * `--user-id` is given. `--duplicate` sends one message id, and one body,
 * every time, as Svix does when it retries: Inngest keeps one event.
 *
 * Exit codes: 0 when every delivery got a 2xx, 1 when any did not, 2 for a
 * usage error.
 */
import { parseArgs } from "node:util";
import {
  buildClerkPayload,
  CLERK_EVENT_TYPES,
  type ClerkEventType,
  isClerkEventType,
  newMessageId,
  signDelivery,
} from "./clerk_payloads.ts";
import { DEFAULT_PORT } from "./dev.ts";
import { ENV_FILE } from "./env_file.ts";
import { isSvixSecret } from "../functions/settings/_schema.ts";

/** Where `deno task dev` serves the webhook route on `port`. */
export function defaultUrl(port: number | string = DEFAULT_PORT): string {
  return `http://127.0.0.1:${port}/functions/v1/clerk-events/webhook`;
}

/** Where `deno task dev` serves the webhook route without `PORT`. */
export const DEFAULT_URL = defaultUrl();

const USAGE = `Usage: deno task webhook:send [options]

Signs a Clerk webhook with the endpoint's secret and POSTs it, like Svix.

Options:
  --url URL          where to send (default ${DEFAULT_URL},
                     or the port in PORT, as for deno task dev)
  --secret whsec_... signing secret (default: CLERK_WEBHOOK_SIGNING_SECRET from
                     the environment or .env; the first one if there are several)
  --type TYPE        ${CLERK_EVENT_TYPES.join(" | ")} (default user.created)
  --file PATH        send this JSON Clerk payload instead of a built-in one
  --user-id ID       set data.id (default: a new user id for every delivery);
                     for billing types, the payer (user_... or org_...)
  --count N          send N deliveries, each with a new svix-id (default 1)
  --concurrency N    deliveries in flight at once (default 1)
  --duplicate        reuse one svix-id and body for every delivery, like a
                     Svix retry, to see Inngest drop the duplicates
  --help             show this help`;

/** Thrown for bad command-line input; exits with code 2. */
class UsageError extends Error {
  override name = "UsageError";
}

interface Options {
  url: string;
  secret: string;
  /** Where the secret came from, for the hint on a 401. */
  secretFrom: string;
  type?: ClerkEventType;
  file?: string;
  userId?: string;
  count: number;
  concurrency: number;
  duplicate: boolean;
}

interface Outcome {
  id: string;
  /** The HTTP status, or 0 when no answer came. */
  status: number;
  detail?: string;
  /** The answer was not the function's JSON (another server on that port). */
  foreign?: boolean;
  ms: number;
}

function positiveInteger(raw: string | undefined, flag: string): number {
  if (raw === undefined) return 1;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) {
    throw new UsageError(`Cannot send webhook: ${flag} must be a whole number of at least 1`);
  }
  return value;
}

function parseOptions(args: string[]): Options | undefined {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        url: { type: "string" },
        secret: { type: "string" },
        type: { type: "string" },
        file: { type: "string" },
        "user-id": { type: "string" },
        count: { type: "string" },
        concurrency: { type: "string" },
        duplicate: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (error) {
    throw new UsageError(`Cannot send webhook: ${(error as Error).message}`);
  }
  if (values.help) return undefined;

  if (values.type !== undefined && values.file !== undefined) {
    throw new UsageError("Cannot send webhook: use --type or --file, not both");
  }
  if (values.type !== undefined && !isClerkEventType(values.type)) {
    throw new UsageError(
      `Cannot send webhook: --type must be one of ${CLERK_EVENT_TYPES.join(", ")}`,
    );
  }
  const env = Deno.env.toObject();
  const port = env.PORT?.trim();
  const url = values.url ?? (port ? defaultUrl(port) : DEFAULT_URL);
  try {
    new URL(url);
  } catch {
    throw new UsageError(`Cannot send webhook: --url is not a URL`);
  }

  const secretFrom = values.secret !== undefined
    ? "--secret"
    : `CLERK_WEBHOOK_SIGNING_SECRET (from the shell or ${ENV_FILE})`;
  const secret = (values.secret ?? env.CLERK_WEBHOOK_SIGNING_SECRET)?.trim().split(/\s+/)[0];
  if (!secret) throw new UsageError(`Cannot send webhook: no secret; ${noSecretHint()}`);
  // The shape the function's settings require of every secret (it answers 503 otherwise).
  if (!isSvixSecret(secret)) {
    throw new UsageError(
      `Cannot send webhook: ${secretFrom} is not a Svix signing secret: it must be ` +
        "whsec_ followed by base64, like the Signing Secret of the Clerk endpoint",
    );
  }
  return {
    url,
    secret,
    secretFrom,
    type: values.type as ClerkEventType | undefined,
    file: values.file,
    userId: values["user-id"],
    count: positiveInteger(values.count, "--count"),
    concurrency: positiveInteger(values.concurrency, "--concurrency"),
    duplicate: values.duplicate ?? false,
  };
}

/** What to do without a secret: it depends on whether `.env` exists. */
function noSecretHint(): string {
  const root = new URL("../", import.meta.url);
  const envFile = (() => {
    try {
      return Deno.statSync(new URL(ENV_FILE, root)).isFile;
    } catch {
      return false;
    }
  })();
  return envFile
    ? `${ENV_FILE} has no CLERK_WEBHOOK_SIGNING_SECRET: set it there (deno task dev reads the ` +
      "same file), or pass --secret whsec_..."
    : `there is no ${ENV_FILE} file: cp .env.example ${ENV_FILE} gives a local secret that ` +
      "deno task dev uses too, or pass --secret whsec_...";
}

async function readPayloadFile(path: string): Promise<Record<string, unknown>> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await Deno.readTextFile(path));
  } catch (error) {
    throw new UsageError(`Cannot send webhook: cannot read ${path}: ${(error as Error).message}`);
  }
  const data = (parsed as { data?: unknown } | null)?.data;
  if (typeof parsed !== "object" || parsed === null || typeof data !== "object" || !data) {
    throw new UsageError(`Cannot send webhook: ${path} is not a Clerk payload with a data object`);
  }
  return parsed as Record<string, unknown>;
}

/** Makes the body of each delivery. */
async function bodyMaker(options: Options): Promise<() => string> {
  if (options.file) {
    const payload = await readPayloadFile(options.file);
    if (options.userId) {
      payload.data = { ...(payload.data as Record<string, unknown>), id: options.userId };
    }
    const body = JSON.stringify(payload);
    return () => body;
  }
  const type = options.type ?? "user.created";
  return () => JSON.stringify(buildClerkPayload(type, { userId: options.userId }));
}

async function deliver(url: string, body: string, secret: string, id: string): Promise<Outcome> {
  const started = performance.now();
  const headers = signDelivery(body, secret, { id });
  try {
    const res = await fetch(url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "user-agent": "Svix-Webhooks/1.0",
        ...headers,
      },
      body,
      signal: AbortSignal.timeout(30_000),
    });
    const text = await res.text();
    const ms = performance.now() - started;
    // The function answers JSON; anything else is another server on that port.
    const foreign = !(res.headers.get("content-type") ?? "").includes("json");
    const detail = foreign
      ? describeForeign(text, res.headers.get("content-type"))
      : text.slice(0, 500);
    return { id, status: res.status, detail: res.ok && !foreign ? undefined : detail, foreign, ms };
  } catch (error) {
    const ms = performance.now() - started;
    return { id, status: 0, detail: (error as Error).message, ms };
  }
}

/** One line about an answer that is not the function's: its type, size and title. */
function describeForeign(text: string, contentType: string | null): string {
  const type = contentType?.split(";")[0].trim() || "no content type";
  const title = /<title[^>]*>([^<]*)<\/title>/i.exec(text)?.[1].trim().replace(/\s+/g, " ");
  const what = /html/i.test(type) || /^\s*</.test(text) ? "an HTML page" : `a ${type} answer`;
  return `${what} of ${text.length} characters${title ? `, titled "${title.slice(0, 80)}"` : ""}` +
    ", not the function's JSON";
}

const ok = (outcome: Outcome) => outcome.status >= 200 && outcome.status < 300 && !outcome.foreign;

function describe(outcome: Outcome): string {
  const status = outcome.status ? String(outcome.status) : "no answer";
  const line = `${status} ${outcome.id} (${outcome.ms.toFixed(0)} ms)`;
  return outcome.detail ? `${line}: ${outcome.detail}` : line;
}

/** Rewrites one status line in place on a terminal; prints nothing otherwise. */
function progressPrinter(total: number) {
  const tty = Deno.stderr.isTerminal();
  const encoder = new TextEncoder();
  let last = 0;
  return {
    update(done: number, good: number, force = false) {
      if (!tty) return;
      const now = performance.now();
      if (!force && now - last < 100) return;
      last = now;
      const line = `sent ${done}/${total} (2xx ${good}, other ${done - good})`;
      Deno.stderr.writeSync(encoder.encode(`\r\x1b[2K${line}`));
    },
    end() {
      if (tty) Deno.stderr.writeSync(encoder.encode("\n"));
    },
  };
}

async function sendAll(options: Options): Promise<Outcome[]> {
  const makeBody = await bodyMaker(options);
  const fixedId = options.duplicate ? newMessageId() : undefined;
  const fixedBody = options.duplicate ? makeBody() : undefined;
  const outcomes: Outcome[] = [];
  const progress = progressPrinter(options.count);
  let next = 0;
  let good = 0;
  const worker = async () => {
    while (next < options.count) {
      next += 1;
      const outcome = await deliver(
        options.url,
        fixedBody ?? makeBody(),
        options.secret,
        fixedId ?? newMessageId(),
      );
      outcomes.push(outcome);
      if (ok(outcome)) good += 1;
      if (options.count > 1) progress.update(outcomes.length, good);
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency, options.count) }, worker));
  if (options.count > 1) {
    progress.update(outcomes.length, good, true);
    progress.end();
  }
  return outcomes;
}

function summarize(outcomes: Outcome[], options: Options, seconds: number): string[] {
  if (outcomes.length === 1) return [describe(outcomes[0])];
  const byStatus = new Map<string, number>();
  for (const o of outcomes) {
    const key = o.status ? String(o.status) : "no answer";
    byStatus.set(key, (byStatus.get(key) ?? 0) + 1);
  }
  const good = outcomes.filter(ok).length;
  const rate = seconds > 0 ? (outcomes.length / seconds).toFixed(1) : "n/a";
  const lines = [
    `sent ${outcomes.length} deliveries to ${options.url} in ${seconds.toFixed(2)} s` +
    ` (${rate} requests/s): 2xx ${good}, other ${outcomes.length - good}`,
    `statuses: ${[...byStatus].map(([status, n]) => `${status} x${n}`).join(", ")}`,
  ];
  if (options.duplicate) {
    lines.push(`event id: ${outcomes[0].id} (the same for every delivery)`);
  } else if (outcomes.length <= 20) {
    for (const o of outcomes) lines.push(`  ${describe(o)}`);
  } else {
    lines.push(`event ids: ${outcomes[0].id} ... ${outcomes[outcomes.length - 1].id}`);
    const failed = outcomes.filter((o) => !ok(o));
    for (const o of failed.slice(0, 20)) lines.push(`  ${describe(o)}`);
    if (failed.length > 20) lines.push(`  ... and ${failed.length - 20} more failures`);
  }
  return lines;
}

/**
 * One line on what went wrong when deliveries failed for want of a service
 * (the function itself, or the Inngest it forwards to), or for a secret
 * that is not the function's.
 */
function explain(outcomes: Outcome[], options: Options): string | undefined {
  const { origin } = new URL(options.url);
  if (
    outcomes.some((o) => o.status === 0 && /connect|refused|fetch failed/i.test(o.detail ?? ""))
  ) {
    return `The function is not running at ${origin}: start it with ` +
      "deno task dev (or deno task up), or pass --url";
  }
  if (outcomes.some((o) => o.foreign)) {
    return `Something other than clerk-events answers at ${origin}: another server on that ` +
      "port? Start the function with deno task dev (PORT picks another port), or pass --url";
  }
  if (outcomes.some((o) => o.status === 401)) {
    return "The function refused the signature (401): it checks with its own " +
      `CLERK_WEBHOOK_SIGNING_SECRET, and these deliveries were signed with ${options.secretFrom}. ` +
      `Use the same secret for both; deno task dev reads ${ENV_FILE} when it starts, so ` +
      "restart it after changing the file";
  }
  const unreachable = outcomes.find((o) =>
    o.status === 502 && o.detail?.includes("inngest_unreachable")
  );
  if (unreachable) {
    const message = /"message":"((?:[^"\\]|\\.)*)"/.exec(unreachable.detail!)?.[1];
    return `The function is up, but Inngest is not: ${message ?? unreachable.detail}`;
  }
  return undefined;
}

async function main(args: string[]): Promise<number> {
  let options: Options | undefined;
  try {
    options = parseOptions(args);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`${error.message}\nRun with --help to see the options.`);
    return 2;
  }
  if (!options) {
    console.log(USAGE);
    return 0;
  }
  const what = options.file ?? options.type ?? "user.created";
  const mode = options.duplicate ? ", one svix-id (duplicates)" : "";
  console.error(`Sending ${options.count} x ${what} to ${options.url}${mode}`);
  const started = performance.now();
  const outcomes = await sendAll(options);
  const seconds = (performance.now() - started) / 1000;
  for (const line of summarize(outcomes, options, seconds)) console.log(line);
  const advice = explain(outcomes, options);
  if (advice) console.error(advice);
  return outcomes.every(ok) ? 0 : 1;
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    Deno.exit(1);
  }
}
