/**
 * The world one simulated history runs in: the app built by `createApp`
 * with every optional feature on, its database behind the PostgREST double,
 * and in-process stand-ins for Clerk's Backend API, Mailchimp, Resend
 * (emails and contacts), Stripe and Inngest's event API.
 *
 * Every request the app makes leaves through {@link World.fetch} (also put
 * in place of `globalThis.fetch` for the SDKs that take no `fetch`), which
 * hands it to the stand-in of its host in process, with no socket, and
 * applies the faults of {@link FaultPlan}. Nothing else reaches the app:
 * the simulation calls `handler` with signed Clerk webhooks, /users/me/sync
 * with minted session tokens, /unsubscribe, and the signed /inngest
 * requests of the Inngest engine.
 *
 * One database serves a whole run; {@link resetDatabase} empties the tables
 * a history writes, so that each history starts from nothing (the
 * reconcile reads every row, so histories cannot share one).
 */
import type postgres from "postgres";
import { type App, createApp } from "../../functions/app.ts";
import type { Env } from "../../functions/settings.ts";
import { type ClerkApi, startClerkApi } from "../support/clerk_api.ts";
import { type BillingStandIn, serveBilling } from "../support/clerk_billing.ts";
import { captureLogs, TEST_SIGNING_KEY, testEnv } from "../support/env.ts";
import { type InngestEngine, startInngestEngine } from "../support/inngest_engine.ts";
import type { RunEvent } from "../support/inngest_cloud.ts";
import { type MailchimpApi, startMailchimpApi } from "../support/mailchimp_api.ts";
import { type PostgrestDouble, startPostgrestDouble } from "../support/postgrest_double.ts";
import { type ResendApi, startResendApi } from "../support/resend_api.ts";
import { type SimClock, simClock } from "../support/sim_clock.ts";
import { startStripeApi, type StripeApi } from "../support/stripe_api.ts";
import { createTestInstance, type TestInstance } from "../support/session_tokens.ts";
import { FaultPlan, type Service } from "./faults.ts";

/** The newsletter's provider in a history. */
export type NewsletterProvider = "mailchimp" | "resend";

/** The secret in Mailchimp's webhook URL. */
export const MAILCHIMP_WEBHOOK_SECRET = "mailchimp-webhook-secret-" + "c0".repeat(8);
/** The Resend segment of the newsletter, when it runs on Resend's contacts. */
export const NEWSLETTER_SEGMENT_ID = "seg_convergence";
/** Stripe's key and the trial's price. */
export const STRIPE_SECRET_KEY = "sk_test_" + "51convergence".repeat(3);
const STRIPE_TRIAL_PRICE_ID = "price_1Convergence";

/** Host names the app is pointed at: every request to them stays in process. */
const HOSTS: Readonly<Record<Service, string>> = {
  clerk: "http://clerk.sim",
  mailchimp: "http://mailchimp.sim",
  resend: "http://resend.sim",
  stripe: "http://stripe.sim",
  database: "http://postgrest.sim",
  inngest: "http://inngest.sim",
};

/** Everything one history runs against. */
export interface World {
  readonly app: App;
  readonly engine: InngestEngine;
  /** Inngest's clock, and the stand-ins' (idempotency windows, Stripe's trial end). */
  readonly clock: SimClock;
  readonly clerk: ClerkApi;
  /** Clerk Billing's routes of the Clerk stand-in (the reconcile lists its items). */
  readonly billing: BillingStandIn;
  readonly mailchimp: MailchimpApi;
  readonly resend: ResendApi;
  readonly stripe: StripeApi;
  readonly provider: NewsletterProvider;
  readonly faults: FaultPlan;
  /** The Clerk instance whose key signs session tokens. */
  readonly instance: TestInstance;
  /** Every request the app made, by service, with what it got. */
  readonly requests: SentRequest[];
  /** Events the app sent to Inngest, besides the webhooks' (nudges, sweeps). */
  readonly sent: RunEvent[];
  /** The fetch every request of the app goes through. */
  readonly fetch: typeof fetch;
  /** Awaited before each request is handed on: lets a race start writers together. */
  beforeSend?: (service: Service, req: Request) => Promise<void>;
  /** Called as each request leaves (+1) and once its answer is handled (-1). */
  onRequest?: (delta: 1 | -1) => void;
  /** Awaited after each answer (or lost answer), before the app sees it: a gate for the simulation. */
  onAnswer?: (service: Service) => Promise<void>;
  close(): Promise<void>;
}

/** One request the app made. */
export interface SentRequest {
  readonly service: Service;
  readonly method: string;
  readonly path: string;
  /** The status it got, or the fault that took its place. */
  outcome: number | string;
}

/** The part of a world that outlives histories: the database and its PostgREST. */
export interface Base {
  readonly sql: postgres.Sql;
  readonly postgrest: PostgrestDouble;
  readonly instance: TestInstance;
}

/** Starts the PostgREST double over `sql`, with its own server untouched by faults. */
export async function startBase(sql: postgres.Sql): Promise<Base> {
  const postgrest = startPostgrestDouble({
    sql,
    serviceKey: "convergence-service-key",
    anonKey: "anon-key",
  });
  return { sql, postgrest, instance: await createTestInstance("convergence") };
}

/** Options for {@link createWorld}. */
export interface WorldOptions {
  readonly provider: NewsletterProvider;
  /** Where simulated time starts (ms). Default: now. */
  readonly start?: number;
}

/** Builds the app and its stand-ins for one history. */
export async function createWorld(base: Base, options: WorldOptions): Promise<World> {
  const clock = simClock(options.start ?? Date.now());
  const clerk = startClerkApi({ rateLimit: undefined });
  clerk.rateLimit = undefined;
  clerk.jwks = { keys: [base.instance.jwk] };
  const billing = serveBilling(clerk);
  const mailchimp = startMailchimpApi({ now: clock.now });
  const resend = startResendApi({ now: clock.now });
  const stripe = startStripeApi({ secretKey: STRIPE_SECRET_KEY, now: clock.now });
  const faults = new FaultPlan(clock);
  const requests: SentRequest[] = [];
  const sent: RunEvent[] = [];
  let sentIds = 0;
  // Set once the engine exists; the app sends events only after that.
  let world: World | undefined;

  const handlers: Record<Service, (req: Request) => Promise<Response>> = {
    clerk: (req) => clerk.handle(retarget(req, clerk.url)),
    mailchimp: (req) => mailchimp.handle(retarget(req, mailchimp.url)),
    resend: (req) => resend.handle(retarget(req, resend.url)),
    stripe: (req) => stripe.handle(retarget(req, stripe.url)),
    database: (req) => base.postgrest.handle(retarget(req, base.postgrest.url)),
    inngest: async (req) => {
      const events = await req.json() as Partial<RunEvent>[];
      // Inngest gives an event sent without an id one of its own.
      const stamped = events.map((e) => ({
        ...e,
        id: e.id ?? `sent-${(sentIds += 1)}`,
        ts: e.ts ?? clock.now(),
      } as RunEvent));
      sent.push(...stamped);
      world?.engine.send(...stamped);
      return Response.json({ ids: stamped.map((e) => e.id), status: 200 });
    },
  };

  const simFetch: typeof fetch = async (input, init) => {
    const req = new Request(input, init);
    const url = new URL(req.url);
    const service = (Object.keys(HOSTS) as Service[]).find((s) =>
      new URL(HOSTS[s]).host === url.host
    );
    if (!service) throw new TypeError(`The simulation has no stand-in for ${url.origin}`);
    const record: SentRequest = { service, method: req.method, path: url.pathname, outcome: 0 };
    requests.push(record);
    await world?.beforeSend?.(service, req);
    world?.onRequest?.(1);
    try {
      return await faults.apply(service, req, handlers[service], record);
    } finally {
      await world?.onAnswer?.(service);
      world?.onRequest?.(-1);
    }
  };

  const env: Env = testEnv({
    SUPABASE_URL: HOSTS.database,
    SUPABASE_SERVICE_ROLE_KEY: "convergence-service-key",
    INNGEST_EVENT_API_BASE_URL: `${HOSTS.inngest}/`,
    RESEND_BASE_URL: HOSTS.resend,
    CLERK_API_URL: HOSTS.clerk,
    CLERK_JWT_KEY: base.instance.publicKeyPem,
    STRIPE_SECRET_KEY,
    STRIPE_TRIAL_PRICE_ID,
    STRIPE_API_URL: HOSTS.stripe,
    CLERK_RECONCILE_CRON: "off",
    ...(options.provider === "mailchimp"
      ? {
        MAILCHIMP_API_KEY: mailchimp.apiKey,
        MAILCHIMP_AUDIENCE_ID: mailchimp.audienceId,
        MAILCHIMP_API_URL: `${HOSTS.mailchimp}/3.0`,
        MAILCHIMP_WEBHOOK_SECRET,
      }
      : { RESEND_NEWSLETTER_SEGMENT_ID: NEWSLETTER_SEGMENT_ID }),
  });
  const app = createApp(env, {
    logger: captureLogs().logger,
    fetch: simFetch,
    // Small pages, so that a reconcile of a few rows still pages.
    reconcile: { pageSize: 2, pagesPerStep: 2, confirmBatchSize: 2 },
  });
  const engine = await startInngestEngine({
    handler: app.handler,
    signingKey: TEST_SIGNING_KEY,
    clock,
    maxRequestsPerRun: 400,
  });
  return world = {
    app,
    engine,
    clock,
    clerk,
    billing,
    mailchimp,
    resend,
    stripe,
    provider: options.provider,
    faults,
    instance: base.instance,
    requests,
    sent,
    fetch: simFetch,
    close: async () => {
      await Promise.all([clerk.close(), mailchimp.close(), resend.close(), stripe.close()]);
    },
  };
}

/** `req` with its origin replaced by `base`'s (the stand-ins check paths, some check hosts). */
function retarget(req: Request, base: string): Request {
  const url = new URL(req.url);
  const target = new URL(base);
  url.protocol = target.protocol;
  url.host = target.host;
  return new Request(url, req);
}

/** The tables a history writes, emptied before each one. */
export const MIRRORED_TABLES = [
  "users",
  "email_deliveries",
  "email_preferences",
  "clerk_sync_runs",
  "clerk_sync_seen",
  "clerk_sync_absent",
  "clerk_sync_org_seen",
  "clerk_sync_org_absent",
  "organizations",
  "organization_memberships",
  "billing_customers",
  "billing_subscriptions",
  "billing_subscription_items",
  "billing_payment_attempts",
] as const;

/** Empties every table of the public schema that a history writes. */
export async function resetDatabase(sql: postgres.Sql): Promise<void> {
  await sql.unsafe(
    `truncate ${MIRRORED_TABLES.map((t) => `public.${t}`).join(", ")} restart identity cascade`,
  );
}

/** Runs `fn` with `globalThis.fetch` replaced by `world.fetch` (Resend's SDK takes no fetch). */
export async function withGlobalFetch<T>(world: World, fn: () => Promise<T>): Promise<T> {
  const original = globalThis.fetch;
  globalThis.fetch = world.fetch;
  try {
    return await fn();
  } finally {
    globalThis.fetch = original;
  }
}
