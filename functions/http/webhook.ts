/**
 * `POST /clerk-events/webhook`: turns a verified Clerk webhook into the
 * Inngest event `clerk/<type>`.
 *
 * The order is the point: limit the size, read the raw text once, verify
 * that exact text, and only then parse it. The answer is 2xx only once
 * Inngest has accepted the event; every other outcome is an answer that makes
 * Svix retry (5xx) or tells the sender what is wrong with the request (4xx).
 * The event id is the `svix-id`, so a retried delivery becomes the same
 * event and Inngest drops the duplicate.
 */
import { clerkEnvelopeSchema } from "../clerk/schemas.ts";
import type { Verifier } from "../svix/verify.ts";
import { CLERK_EVENT_PREFIX, dataSchemaFor } from "../events.ts";
import { InngestUnreachableError } from "../inngest_unreachable.ts";
import { errorFields, type Logger } from "../log.ts";
import { HttpError, json } from "./http_error.ts";
import {
  DEFAULT_MAX_BODY_BYTES,
  invalidPayload,
  issuesSummary,
  parseJsonBody,
  receiveSignedDelivery,
} from "./signed_delivery.ts";

export { DEFAULT_MAX_BODY_BYTES };

/** An event as `inngest.send` takes it. */
export interface OutgoingEvent {
  readonly id: string;
  readonly name: string;
  readonly data: Record<string, unknown>;
  readonly ts: number;
}

/** Options for {@link createWebhookHandler}. */
export interface WebhookHandlerOptions {
  readonly verify: Verifier;
  /** Hands an event to Inngest, e.g. `(e) => inngest.send(e)`. */
  readonly send: (event: OutgoingEvent) => Promise<unknown>;
  readonly logger: Logger;
  /** Largest accepted body. Default {@link DEFAULT_MAX_BODY_BYTES}. */
  readonly maxBodyBytes?: number;
  /**
   * How long to wait for Inngest before answering 5xx. Default 10 s: Svix
   * gives up on an answer after 15 s, and a late 2xx counts as a failure.
   */
  readonly sendDeadlineMs?: number;
  /**
   * Keeps a send that outlived the deadline running after the response, so
   * it is not cut off mid-request (the edge runtime's `EdgeRuntime.waitUntil`).
   */
  readonly waitUntil?: (promise: Promise<unknown>) => void;
  /** What to do when Inngest cannot be reached at all, added to the 502 answer. */
  readonly unreachableHint?: string;
}

/** Default time to wait for Inngest to accept an event. */
export const DEFAULT_SEND_DEADLINE_MS = 10_000;

/** Creates the webhook handler. It throws HttpError for every non-2xx answer. */
export function createWebhookHandler(options: WebhookHandlerOptions) {
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const deadlineMs = options.sendDeadlineMs ?? DEFAULT_SEND_DEADLINE_MS;
  const { logger } = options;

  return async (req: Request): Promise<Response> => {
    const started = performance.now();
    const { body, headers } = await receiveSignedDelivery(req, {
      verify: options.verify,
      logger,
      maxBodyBytes,
      label: "Webhook",
    });
    const event = toEvent(body, headers.id, logger);
    const ids = { svix_id: headers.id, event: event.name };

    await sendWithDeadline(
      () => options.send(event),
      deadlineMs,
      options.waitUntil,
      () => logger.child(ids),
      options.unreachableHint,
    );
    const user = (event.data as { id?: unknown }).id;
    // The same line as `logger.child(ids).info(...)`, without building a
    // child logger for every request.
    logger.info("Webhook forwarded", {
      ...ids,
      user_id: typeof user === "string" ? user : undefined,
      duration_ms: Math.round(performance.now() - started),
    });
    return json(200, { status: "accepted", id: event.id, name: event.name });
  };
}

function toEvent(body: string, svixId: string, logger: Logger): OutgoingEvent {
  const reject = (message: string): never =>
    invalidPayload(logger, message, { label: "Webhook", svixId, what: "not a Clerk event" });
  const json = parseJsonBody(body, reject);
  if (depth(json) > MAX_JSON_DEPTH) {
    // The Inngest SDK serialises events recursively and overflows the stack
    // on a few thousand nested arrays; such an event could never be sent.
    return reject(`Body nests deeper than ${MAX_JSON_DEPTH} levels`);
  }
  const envelope = clerkEnvelopeSchema.safeParse(json);
  if (!envelope.success) {
    return reject(`Body is not a Clerk event: ${issuesSummary(envelope.error)}`);
  }
  const name = CLERK_EVENT_PREFIX + envelope.data.type;
  const schema = dataSchemaFor(name);
  if (schema) {
    const data = schema.safeParse(envelope.data.data);
    if (!data.success) {
      return reject(`Data of ${envelope.data.type} is not valid: ${issuesSummary(data.error)}`);
    }
  }
  // Forward Clerk's data object itself, not the parsed copy: fields the
  // schemas do not know about reach the workflows unchanged.
  return { id: svixId, name, data: envelope.data.data, ts: envelope.data.timestamp };
}

/**
 * Deepest nesting of arrays and objects accepted in a body. Clerk payloads
 * nest a handful of levels; metadata that users write themselves could nest
 * more, but not this much.
 */
export const MAX_JSON_DEPTH = 1_024;

/** How deeply `value` nests arrays and objects, without recursion. */
function depth(value: unknown): number {
  let deepest = 0;
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length) {
    const [node, level] = stack.pop()!;
    if (typeof node !== "object" || node === null) continue;
    if (level > deepest) deepest = level;
    if (deepest > MAX_JSON_DEPTH) break;
    for (const child of Array.isArray(node) ? node : Object.values(node)) {
      if (typeof child === "object" && child !== null) stack.push([child, level + 1]);
    }
  }
  return deepest;
}

async function sendWithDeadline(
  send: () => Promise<unknown>,
  deadlineMs: number,
  waitUntil: ((promise: Promise<unknown>) => void) | undefined,
  logFor: () => Logger,
  unreachableHint?: string,
): Promise<void> {
  const sending = send();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), deadlineMs);
  });
  try {
    const outcome = await Promise.race([sending.then(() => "sent" as const), deadline]);
    if (outcome === "timeout") {
      const log = logFor();
      // Keep the send alive and record how it ends; Svix will redeliver with
      // the same id, so if it does land, Inngest deduplicates the retry.
      const late = sending.then(
        () => log.warn("Late send accepted after the webhook answered 504"),
        (error) => log.warn("Late send failed", errorFields(error)),
      );
      waitUntil?.(late);
      log.error("Webhook not forwarded: Inngest did not answer in time", {
        deadline_ms: deadlineMs,
      });
      throw new HttpError(504, "inngest_timeout", "Inngest did not accept the event in time");
    }
  } catch (error) {
    if (error instanceof HttpError) throw error;
    if (error instanceof InngestUnreachableError) {
      logFor().error("Webhook not forwarded: could not reach Inngest", { origin: error.origin });
      const hint = unreachableHint ? `: ${unreachableHint}` : "";
      throw new HttpError(
        502,
        "inngest_unreachable",
        `Could not reach Inngest at ${error.origin}${hint}`,
        { cause: error },
      );
    }
    logFor().error("Webhook not forwarded: Inngest refused the event", errorFields(error));
    throw new HttpError(502, "inngest_unavailable", "Inngest did not accept the event", {
      cause: error,
    });
  } finally {
    clearTimeout(timer);
  }
}
