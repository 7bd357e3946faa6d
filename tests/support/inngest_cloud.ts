/**
 * Plays Inngest Cloud's side of the serve protocol against the `/inngest`
 * route: signed POSTs that run a function step by step, feeding each step's
 * result back as memoized state, until the function returns.
 *
 * It follows the SDK's execution protocol (version 1): a 206 answer carries
 * the ops the SDK found (a step it ran, a sleep, a step it wants to run), and
 * the next request carries every result so far in `steps`. A sleep is
 * "waited" by recording it and resolving it at once: that is exactly what
 * Inngest does when the time comes, minus the wait.
 *
 * `driveRun` drives one run alone with the caller's retry budget. To play by
 * the functions' own registered flow control (retries, cancelOn,
 * idempotency, concurrency, throttle, retry-after) on a simulated clock, use
 * `startInngestEngine` from `inngest_engine.ts`.
 */
import { APP_ID } from "../../functions/inngest/client.ts";
import { within } from "./bounded.ts";

/** Signs `body` the way Inngest does: HMAC-SHA256 of body + timestamp. */
export async function inngestSignature(
  body: string,
  signingKey: string,
  at: Date = new Date(),
): Promise<string> {
  const ts = Math.floor(at.getTime() / 1000).toString();
  const key = signingKey.replace(/^signkey-\w+-/, "");
  const cryptoKey = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(key),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const mac = await crypto.subtle.sign("HMAC", cryptoKey, new TextEncoder().encode(body + ts));
  const hex = Array.from(new Uint8Array(mac), (b) => b.toString(16).padStart(2, "0")).join("");
  return `t=${ts}&s=${hex}`;
}

/**
 * JSON with keys sorted at every level. The SDK verifies the signature over
 * the canonical form (RFC 8785) of the body it parsed; for the strings,
 * integers and booleans used here, sorted-key JSON is that form.
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(
    value,
    (_key, v) =>
      v && typeof v === "object" && !Array.isArray(v)
        ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
        : v,
  );
}

/** An event as Inngest hands it to a function. */
export interface RunEvent {
  id: string;
  name: string;
  data: Record<string, unknown>;
  ts: number;
}

/** One op the SDK answered with. */
export interface Op {
  id: string;
  op: string;
  name?: string;
  displayName?: string;
  data?: unknown;
  error?: unknown;
  opts?: Record<string, unknown>;
}

/** What a driven run did. */
export interface RunOutcome {
  /** The function's return value. */
  result: unknown;
  /** Every op the SDK reported, in order. */
  ops: Op[];
  /** Status of every request made. */
  statuses: number[];
}

/** Options for {@link driveRun}. */
export interface DriveOptions {
  readonly handler: (req: Request) => Promise<Response>;
  /** The function id without the app prefix, e.g. `sync-user-from-clerk`. */
  readonly functionId: string;
  readonly event: RunEvent;
  /** Signs requests; omit to send them unsigned. */
  readonly signingKey?: string;
  readonly url?: string;
  /** Attempts per step before the run counts as failed (Inngest's retries). */
  readonly maxAttempts?: number;
  /** Most requests before giving up on the run. Default 200. */
  readonly maxRequests?: number;
  /** When requests are signed. Default: now. */
  readonly signedAt?: Date;
  /** Wait before retry number `attempt` (Inngest backs off). Default: none. */
  readonly retryDelayMs?: (attempt: number) => number;
  /** Told of each failed attempt that will be retried, with the SDK's `retry-after` (or null). */
  readonly onRetry?: (retryAfter: string | null) => void;
  /** Called when the SDK asks for a sleep; the run resumes when it returns. */
  readonly onSleep?: (op: Op) => void | Promise<void>;
  /** Longest wait for one answer of the serve route. Default 30 s. */
  readonly requestTimeoutMs?: number;
}

/** Default bound on one request to the serve route. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

/** What a run carries into each request. */
export interface RunState {
  readonly event: RunEvent;
  readonly runId: string;
  /** Results so far, by hashed step id. */
  readonly steps: Record<string, { data: unknown }>;
  /** Hashed step ids in the order they completed. */
  readonly stack: readonly string[];
  /** Attempt of the current step, from 0. */
  readonly attempt: number;
  /** Attempts Inngest will make (retries + 1); on the last the SDK reports StepFailed. */
  readonly maxAttempts?: number;
}

/** The body of one execution request (protocol version 1). */
export function runPayload(state: RunState): Record<string, unknown> {
  return {
    event: state.event,
    events: [state.event],
    steps: state.steps,
    ctx: {
      run_id: state.runId,
      attempt: state.attempt,
      ...(state.maxAttempts ? { max_attempts: state.maxAttempts } : {}),
      disable_immediate_execution: false,
      use_api: false,
      stack: { stack: state.stack, current: state.stack.length },
    },
    version: 1,
  };
}

/** One signed request to the serve route, as Inngest Cloud sends it. */
export async function callFunction(
  options: Pick<DriveOptions, "handler" | "functionId" | "signingKey" | "url" | "signedAt">,
  payload: unknown,
  stepId = "step",
): Promise<Response> {
  const url = new URL(options.url ?? "http://localhost/clerk-events/inngest");
  url.searchParams.set("fnId", `${APP_ID}-${options.functionId}`);
  url.searchParams.set("stepId", stepId);
  const body = canonicalJson(payload);
  const headers: Record<string, string> = {
    // The SDK resolves the request URL against the Host header, which a
    // Request built in a test does not get by itself.
    host: url.host,
    "content-type": "application/json",
    "x-inngest-server-kind": "cloud",
  };
  if (options.signingKey) {
    headers["x-inngest-signature"] = await inngestSignature(
      body,
      options.signingKey,
      options.signedAt,
    );
  }
  return options.handler(new Request(url, { method: "POST", headers, body }));
}

/** Drives one run of a function to its end and returns what happened. */
export async function driveRun(options: DriveOptions): Promise<RunOutcome> {
  const runId = crypto.randomUUID();
  const steps: Record<string, { data: unknown }> = {};
  const stack: string[] = [];
  const ops: Op[] = [];
  const statuses: number[] = [];
  const maxAttempts = options.maxAttempts ?? 4;
  let attempt = 0;
  let stepId = "step";

  const backOff = async () => {
    const ms = options.retryDelayMs?.(attempt) ?? 0;
    if (ms > 0) await new Promise((resolve) => setTimeout(resolve, ms));
  };
  for (let request = 0; request < (options.maxRequests ?? 200); request++) {
    const payload = runPayload({ event: options.event, runId, steps, stack, attempt, maxAttempts });
    const res = await within(
      callFunction(options, payload, stepId),
      options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
      `${options.functionId} to answer for event ${options.event.id} (step ${stepId})`,
    );
    statuses.push(res.status);
    const body = await res.json();
    if (res.status === 200) return { result: body, ops, statuses };
    if (res.status !== 206) {
      if (res.headers.get("x-inngest-no-retry") === "true" || ++attempt >= maxAttempts) {
        throw new Error(`Run failed with ${res.status}: ${JSON.stringify(body)}`);
      }
      options.onRetry?.(res.headers.get("retry-after"));
      await backOff();
      continue;
    }
    stepId = "step";
    for (const op of body as Op[]) {
      ops.push(op);
      if (op.op === "StepRun" || op.op === "Step") {
        steps[op.id] = { data: op.data ?? null };
        stack.push(op.id);
        attempt = 0;
      } else if (op.op === "Sleep") {
        await options.onSleep?.(op);
        steps[op.id] = { data: null };
        stack.push(op.id);
      } else if (op.op === "StepPlanned") {
        stepId = op.id;
      } else if (op.op === "StepError" || op.op === "StepFailed") {
        if (op.op === "StepFailed" || ++attempt >= maxAttempts) {
          throw new Error(`Step ${op.displayName ?? op.id} failed: ${JSON.stringify(op.error)}`);
        }
        options.onRetry?.(res.headers.get("retry-after"));
        await backOff();
      } else {
        throw new Error(`Unexpected op ${op.op}`);
      }
    }
  }
  throw new Error(`Run did not finish within ${options.maxRequests ?? 200} requests`);
}
