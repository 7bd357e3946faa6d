/**
 * Clerk's own emails for tests: `email.created` payloads with a fresh code,
 * and the app wired to a database, Inngest's event API and Resend, each a
 * stand-in that records what it really received.
 */
import type postgres from "postgres";
import type { App } from "../../functions/app.ts";
import type { Env } from "../../functions/settings.ts";
import { appAt } from "./app.ts";
import { within } from "./bounded.ts";
import { type ClerkPayload, clerkPayload, newMessageId, signedRequest } from "./clerk.ts";
import { type CapturedLogs, captureLogs } from "./env.ts";
import { type EventApi, startEventApi } from "./event_api.ts";
import { type Postgrest, withPostgrest } from "./postgrest.ts";
import { type ResendApi, startResendApi } from "./resend_api.ts";

/** The sender the tests configure. */
export const AUTH_EMAIL_FROM = "Acme <auth@acme.test>";

/** One verification code, as Clerk renders it, and what identifies it. */
export interface CodeEmail {
  readonly payload: ClerkPayload;
  readonly code: string;
  readonly subject: string;
  readonly to: string;
}

/**
 * An `email.created` carrying a new six-digit code to a new address, sent
 * now (the fixture's data, with every code and address replaced).
 */
export function codeEmail(data: Record<string, unknown> = {}, timestamp = Date.now()): CodeEmail {
  const fixture = clerkPayload("email.created");
  const old = (fixture.data.data as { otp_code: string }).otp_code;
  const code = String(100_000 + crypto.getRandomValues(new Uint32Array(1))[0] % 900_000);
  const to = `someone.${crypto.randomUUID().slice(0, 8)}@example.com`;
  const text = JSON.stringify(fixture).replaceAll(old, code)
    .replaceAll(String(fixture.data.to_email_address), to);
  const payload = JSON.parse(text) as ClerkPayload;
  payload.timestamp = timestamp;
  payload.data = { ...payload.data, id: `ema_${crypto.randomUUID().replaceAll("-", "")}`, ...data };
  return { payload, code, subject: String(payload.data.subject), to };
}

/** What a test drives and inspects. */
export interface AuthEmailWorld {
  readonly sql: postgres.Sql;
  readonly postgrest: Postgrest;
  readonly resend: ResendApi;
  readonly inngest: EventApi;
  readonly logs: CapturedLogs;
  readonly app: App;
  /** Signs `payload` as Svix does (one svix-id per message, a new signature per attempt) and posts it. */
  deliver(payload: ClerkPayload, svixId?: string): Promise<Answer>;
}

/** The webhook's answer. */
export interface Answer {
  readonly status: number;
  readonly body: Record<string, unknown>;
  readonly headers: Headers;
}

/** Runs `fn` with the app (AUTH_EMAIL_FROM set, unless `env` says otherwise) and its stand-ins. */
export async function withAuthEmails(
  fn: (world: AuthEmailWorld) => Promise<void>,
  env: Env = {},
): Promise<void> {
  await withPostgrest(async (sql, postgrest) => {
    const resend = startResendApi();
    const inngest = startEventApi();
    const logs = captureLogs();
    try {
      const app = appAt(postgrest, {
        AUTH_EMAIL_FROM,
        RESEND_BASE_URL: resend.url,
        INNGEST_EVENT_API_BASE_URL: inngest.url,
        ...env,
      }, { logger: logs.logger });
      const deliver = async (payload: ClerkPayload, svixId = newMessageId()) => {
        // Resend gets 10 s and Inngest 10 s: an answer later than that is a bug.
        const res = await within(
          app.handler(signedRequest(payload, { id: svixId })),
          25_000,
          `the webhook's answer to ${payload.type} ${svixId}`,
        );
        return { status: res.status, body: await res.json(), headers: res.headers };
      };
      await fn({ sql, postgrest, resend, inngest, logs, app, deliver });
    } finally {
      await inngest.close();
      await resend.close();
    }
  });
}

/** The ledger row of the email that webhook `svixId` carried. */
export async function authRow(sql: postgres.Sql, svixId: string) {
  const [row] = await sql<
    {
      kind: string;
      user_id: string | null;
      slug: string | null;
      status: string;
      resend_id: string | null;
      error: string | null;
    }[]
  >`select kind, user_id, slug, status, resend_id, error
      from public.email_deliveries where svix_id = ${svixId}`;
  return row;
}
