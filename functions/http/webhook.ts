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
import type { ConsumedEvent, ForwardedEvent, WebhookStage } from "../feature/feature.ts";
import type { Verifier } from "../svix/verify.ts";
import { z } from "zod";
import { CLERK_EVENT_PREFIX } from "../inngest/events.ts";
import { InngestUnreachableError } from "../inngest/unreachable.ts";
import { DeadlineError, withDeadline } from "../util/deadline.ts";
import { errorFields, type Logger } from "../util/log.ts";
import { issuesText } from "../util/zod_issues.ts";
import { HttpError, json } from "./http_error.ts";
import {
  DEFAULT_MAX_BODY_BYTES,
  invalidPayload,
  parseJsonBody,
  receiveSignedDelivery,
} from "./signed_delivery.ts";

export { DEFAULT_MAX_BODY_BYTES };

/** An event as `inngest.send` takes it. */
export type OutgoingEvent = ForwardedEvent;

/** Options for {@link createWebhookHandler}. */
export interface WebhookHandlerOptions {
  readonly verify: Verifier;
  /** The events whose data is validated (those the features consume); others pass as they are. */
  readonly events: readonly ConsumedEvent[];
  /** Work done inside the request for some event types, before the event is forwarded. */
  readonly stages?: readonly WebhookStage[];
  /**
   * Hands an event to Inngest, e.g. `(e) => inngest.send(e)`; `size` is the
   * length of the body it came from (see `createSendBatcher`).
   */
  readonly send: (event: OutgoingEvent, size: number) => Promise<unknown>;
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
  /** The whole request's budget. Default {@link ANSWER_WITHIN_MS}. */
  readonly answerWithinMs?: number;
}

/** Default time to wait for Inngest to accept an event. */
export const DEFAULT_SEND_DEADLINE_MS = 10_000;

/**
 * The whole request's budget: Svix waits 15 s for an answer and counts a
 * later one as a failure. A stage that ran long (Clerk's emails give Resend
 * up to 10 s) leaves Inngest only what is left of it.
 */
export const ANSWER_WITHIN_MS = 14_000;

/** Creates the webhook handler. It throws HttpError for every non-2xx answer. */
export function createWebhookHandler(options: WebhookHandlerOptions) {
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const deadlineMs = options.sendDeadlineMs ?? DEFAULT_SEND_DEADLINE_MS;
  const { logger } = options;
  const validators = dataValidators(options.events);
  const stages = new Map((options.stages ?? []).map((stage) => [stage.type, stage.run]));

  return async (req: Request): Promise<Response> => {
    const started = performance.now();
    const { body, headers } = await receiveSignedDelivery(req, {
      verify: options.verify,
      logger,
      maxBodyBytes,
      label: "Webhook",
    });
    const checked = toEvent(body, headers.id, logger, validators);
    const stage = stages.get(checked.name.slice(CLERK_EVENT_PREFIX.length));
    const event = stage ? { ...checked, data: await stage(checked) } : checked;
    const ids = { svix_id: headers.id, event: event.name };

    const budget = options.answerWithinMs ?? ANSWER_WITHIN_MS;
    const left = Math.max(0, budget - (performance.now() - started));
    await sendWithDeadline(
      () => options.send(event, body.length),
      Math.min(deadlineMs, left),
      options.waitUntil,
      () => logger.child(ids),
      options.unreachableHint,
    );
    // The user an event is about: a user event's own id, else its user_id.
    const data = event.data as { id?: unknown; user_id?: unknown };
    const user = event.name.startsWith(USER_EVENT_PREFIX) ? data.id : data.user_id;
    // The same line as `logger.child(ids).info(...)`, without building a
    // child logger (or copying `ids`) for every request.
    logger.info("Webhook forwarded", {
      svix_id: ids.svix_id,
      event: ids.event,
      user_id: typeof user === "string" ? user : undefined,
      duration_ms: Math.round(performance.now() - started),
    });
    return json(200, { status: "accepted", id: event.id, name: event.name });
  };
}

const USER_EVENT_PREFIX = `${CLERK_EVENT_PREFIX}user.`;

function toEvent(
  body: string,
  svixId: string,
  logger: Logger,
  validators: ReadonlyMap<string, z.ZodType>,
): OutgoingEvent {
  const reject = (message: string): never =>
    invalidPayload(logger, message, { label: "Webhook", svixId, what: "not a Clerk event" });
  const json = parseJsonBody(body, reject);
  if (nestsDeeperThan(body, MAX_JSON_DEPTH)) {
    // The Inngest SDK serialises events recursively and overflows the stack
    // on a few thousand nested arrays; such an event could never be sent.
    return reject(`Body nests deeper than ${MAX_JSON_DEPTH} levels`);
  }
  const envelope = clerkEnvelopeSchema.safeParse(json);
  if (!envelope.success) {
    return reject(`Body is not a Clerk event: ${issuesText(envelope.error)}`);
  }
  const name = CLERK_EVENT_PREFIX + envelope.data.type;
  const schema = validators.get(name);
  if (schema) {
    const data = schema.safeParse(envelope.data.data);
    if (!data.success) {
      return reject(`Data of ${envelope.data.type} is not valid: ${issuesText(data.error)}`);
    }
  }
  // Forward Clerk's data object itself, not the parsed copy: fields the
  // schemas do not know about reach the workflows unchanged.
  return { id: svixId, name, data: envelope.data.data, ts: envelope.data.timestamp };
}

/**
 * The schemas the webhook validates event data with: the consumed events'
 * own, with the top-level object in strip mode. A loose schema copies every
 * field it does not declare into its output (a Clerk user has about
 * thirty), and the webhook throws that output away: it forwards Clerk's
 * object itself. The checks are the same; only the copy is gone.
 */
function dataValidators(events: readonly ConsumedEvent[]): ReadonlyMap<string, z.ZodType> {
  return new Map(
    events.map(({ name, schema }) =>
      [name, schema instanceof z.ZodObject ? schema.strip() : schema] as const
    ),
  );
}

/**
 * Deepest nesting of arrays and objects accepted in a body. Clerk payloads
 * nest a handful of levels; metadata that users write themselves could nest
 * more, but not this much.
 */
export const MAX_JSON_DEPTH = 1_024;

/**
 * Whether the JSON text `text`, which JSON.parse accepted, nests arrays and
 * objects deeper than `limit`. It scans the text once, allocating nothing,
 * rather than walking the parsed value (which cost an array per object and
 * one per node); a text of at most `2 * limit` characters cannot, since each
 * level takes an opening and a closing bracket. Unlike a walk of the parsed
 * value, it also counts a value that a later duplicate key replaced.
 */
function nestsDeeperThan(text: string, limit: number): boolean {
  if (text.length <= 2 * limit) return false;
  let level = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) inString = true;
    else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++level > limit) return true;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) level--;
  }
  return false;
}

const [QUOTE, BACKSLASH, OPEN_BRACE, CLOSE_BRACE, OPEN_BRACKET, CLOSE_BRACKET] = [...'"\\{}[]']
  .map((c) => c.charCodeAt(0));

async function sendWithDeadline(
  send: () => Promise<unknown>,
  deadlineMs: number,
  waitUntil: ((promise: Promise<unknown>) => void) | undefined,
  logFor: () => Logger,
  unreachableHint?: string,
): Promise<void> {
  const sending = send();
  try {
    await withDeadline(sending, deadlineMs, "Inngest did not accept the event in time");
  } catch (error) {
    if (error instanceof DeadlineError) {
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
      throw new HttpError(504, "inngest_timeout", error.message);
    }
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
  }
}
