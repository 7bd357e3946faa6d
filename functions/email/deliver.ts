/**
 * Sends one onboarding email exactly once: claim, send, record.
 *
 * 1. Claim (user, kind) in `public.email_deliveries`. A final status means it
 *    was already handled, so nothing is sent.
 * 2. Send with the idempotency key `clerk-events/<kind>/<user>`. If a crash
 *    came between an earlier send and its record, this retry reuses the key
 *    and Resend answers with the first email instead of sending another.
 * 3. Record the Resend id and status.
 */
import { errorFields, type Logger } from "../util/log.ts";
import type { DeliveriesStore, DeliveryStatus, EmailKind } from "./deliveries_store.ts";
import { providerFailure } from "../inngest/step_errors.ts";
import { type EmailMessage, type Mailer, MailerError } from "./mailer.ts";

/** Dependencies of {@link deliverEmail}. */
export interface DeliverDeps {
  readonly deliveries: DeliveriesStore;
  /** Resolved only when an email is really sent. */
  readonly mailer: () => Promise<Mailer>;
  readonly dryRun: boolean;
  readonly logger: Logger;
}

/** One email to deliver, or the reason not to. */
export type DeliveryRequest =
  | { readonly userId: string; readonly kind: EmailKind; readonly message: EmailMessage }
  | { readonly userId: string; readonly kind: EmailKind; readonly skipReason: string };

/** What happened to a delivery. */
export interface DeliveryResult {
  readonly status: DeliveryStatus;
  /** True when an earlier attempt had already handled it. */
  readonly alreadyHandled: boolean;
  readonly resendId?: string;
}

/** The idempotency key for (user, kind): the same on every retry. */
export function idempotencyKey(userId: string, kind: EmailKind): string {
  return `clerk-events/${kind}/${userId}`;
}

/** Claims, sends and records one email. See the module doc for the protocol. */
export async function deliverEmail(
  deps: DeliverDeps,
  request: DeliveryRequest,
): Promise<DeliveryResult> {
  const { userId, kind } = request;
  const log = deps.logger.child({ user_id: userId, email_kind: kind });
  const claimed = await deps.deliveries.claim(userId, kind);
  if (claimed !== "pending") {
    log.info("Email already handled", { status: claimed });
    return { status: claimed, alreadyHandled: true };
  }
  if ("skipReason" in request) {
    const status = await deps.deliveries.record(userId, kind, {
      status: "skipped",
      error: request.skipReason,
    });
    log.info("Email skipped", { status, reason: request.skipReason });
    return { status, alreadyHandled: false };
  }
  if (deps.dryRun) {
    const status = await deps.deliveries.record(userId, kind, { status: "dry_run" });
    log.info("Email recorded without sending (EMAIL_DRY_RUN)", { status });
    return { status, alreadyHandled: false };
  }

  const started = performance.now();
  let resendId: string | undefined;
  try {
    resendId = (await (await deps.mailer()).send(request.message, idempotencyKey(userId, kind))).id;
  } catch (error) {
    return await handleSendFailure(deps, log, userId, kind, error);
  }
  const status = await deps.deliveries.record(userId, kind, { status: "sent", resendId });
  log.info("Email sent", {
    status,
    resend_id: resendId,
    duration_ms: Math.round(performance.now() - started),
  });
  return { status, alreadyHandled: false, resendId };
}

async function handleSendFailure(
  deps: DeliverDeps,
  log: Logger,
  userId: string,
  kind: EmailKind,
  error: unknown,
): Promise<DeliveryResult> {
  const action = `Cannot send ${kind} email to user "${userId}"`;
  if (!(error instanceof MailerError)) {
    log.warn("Email send failed; will retry", errorFields(error));
    throw new Error(`${action}: ${error instanceof Error ? error.message : String(error)}`, {
      cause: error,
    });
  }
  switch (error.kind) {
    case "already_sent": {
      const status = await deps.deliveries.record(userId, kind, {
        status: "sent",
        error: "Sent on an earlier attempt under the same idempotency key",
      });
      log.info("Email was already sent on an earlier attempt", { status });
      return { status, alreadyHandled: true };
    }
    case "permanent":
      await deps.deliveries.record(userId, kind, { status: "failed", error: error.message });
      log.error("Email failed permanently", { ...errorFields(error), status_code: error.status });
      break;
    default:
      log.warn("Email send failed; will retry", {
        ...errorFields(error),
        kind: error.kind,
        status_code: error.status,
        retry_after_ms: error.retryAfterMs,
      });
  }
  throw providerFailure(action, error);
}
