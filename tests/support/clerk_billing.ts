/**
 * Clerk Billing for tests: the fixtures, the store over supabase-js, reads
 * of the three tables, the plan checks as a signed-in caller would ask
 * them, and the billing routes of the Clerk Backend API stand-in.
 */
import type postgres from "postgres";
import { createServiceClient } from "../../functions/database/supabase_client.ts";
import { createSupabaseBillingStore } from "../../functions/clerk_billing/supabase_store.ts";
import type { BillingStore } from "../../functions/clerk_billing/store.ts";
import type {
  BillingBatch,
  SubscriptionItemRow,
  SubscriptionRow,
} from "../../functions/clerk_billing/rows.ts";
import { billingData, type BillingEventType } from "../../scripts/clerk_billing_payloads.ts";
import type { ClerkApi } from "./clerk_api.ts";
import { asRole } from "./database.ts";
import type { RunEvent } from "./inngest_cloud.ts";
import type { Postgrest } from "./postgrest.ts";
import subscriptionCreated from "../fixtures/clerk/billing/subscription.created.json" with {
  type: "json",
};
import itemActive from "../fixtures/clerk/billing/subscriptionItem.active.json" with {
  type: "json",
};
import itemPastDue from "../fixtures/clerk/billing/subscriptionItem.pastDue.json" with {
  type: "json",
};
import attemptUpdated from "../fixtures/clerk/billing/paymentAttempt.updated.json" with {
  type: "json",
};

/** The billing fixtures, by file name. */
export const BILLING_FIXTURES = {
  "subscription.created": subscriptionCreated,
  "subscriptionItem.active": itemActive,
  "subscriptionItem.pastDue": itemPastDue,
  "paymentAttempt.updated": attemptUpdated,
} as const;

/** A billing fixture's name. */
export type BillingFixture = keyof typeof BILLING_FIXTURES;

/** A fresh copy of a billing fixture's envelope, with `data` patched. */
export function billingFixture(name: BillingFixture, data: Record<string, unknown> = {}) {
  const copy = structuredClone(BILLING_FIXTURES[name]) as {
    type: string;
    object: string;
    timestamp: number;
    data: Record<string, unknown>;
  };
  copy.data = { ...copy.data, ...data };
  return copy;
}

/** The store over supabase-js, pointed at a PostgREST (or the double). */
export function billingStoreAt(postgrest: Postgrest): BillingStore {
  const { url, serviceKey } = postgrest;
  return createSupabaseBillingStore(createServiceClient({ url, serviceKey }));
}

/** A fresh id with Clerk's prefix. */
export function billingTestId(prefix: string): string {
  return `${prefix}_${crypto.randomUUID().replaceAll("-", "").slice(0, 27)}`;
}

/** A batch of only `items`, or only `subscriptions`. */
export const itemsBatch = (...items: SubscriptionItemRow[]): BillingBatch => ({
  subscriptions: [],
  items,
  paymentAttempts: [],
});
export const subscriptionsBatch = (...subscriptions: SubscriptionRow[]): BillingBatch => ({
  subscriptions,
  items: [],
  paymentAttempts: [],
});

const DAY = 24 * 60 * 60 * 1000;
const BASE = 1_700_000_000_000;
/** When this test module started: every row built for it has the same periods. */
const STARTED = Date.now();

/** An item row of `payer` at `version` (ms after a fixed base), on `pro` for 30 days from the start. */
export function itemRow(
  id: string,
  payer: string,
  version: number,
  patch: Partial<SubscriptionItemRow> = {},
): SubscriptionItemRow {
  const organization = payer.startsWith("org_");
  return {
    id,
    payer_user_id: organization ? null : payer,
    payer_organization_id: organization ? payer : null,
    plan_id: "cplan_pro",
    plan_slug: "pro",
    plan_period: "month",
    status: "active",
    is_free_trial: false,
    period_start: new Date(STARTED - DAY).toISOString(),
    period_end: new Date(STARTED + 30 * DAY).toISOString(),
    canceled_at: null,
    clerk_updated_at: new Date(BASE + version).toISOString(),
    ...patch,
  };
}

/** The columns a test compares: everything but the row's own bookkeeping. */
const ITEM_COLUMNS = `id, payer_user_id, payer_organization_id, plan_id, plan_slug, plan_period,
  status, is_free_trial, period_start, period_end, canceled_at, clerk_updated_at`;

/** A row of `public.billing_subscription_items`, as postgres.js reads it. */
export interface StoredItem {
  readonly id: string;
  readonly payer_user_id: string | null;
  readonly payer_organization_id: string | null;
  readonly plan_id: string | null;
  readonly plan_slug: string | null;
  readonly plan_period: string | null;
  readonly status: string;
  readonly is_free_trial: boolean;
  readonly period_start: Date | null;
  readonly period_end: Date | null;
  readonly canceled_at: Date | null;
  readonly clerk_updated_at: Date;
  readonly updated_at: Date;
}

/** A row of `public.billing_subscription_items`, read as the table owner. */
export async function readItem(sql: postgres.Sql, id: string): Promise<StoredItem | undefined> {
  const [row] = await sql.unsafe(
    `select ${ITEM_COLUMNS}, updated_at from public.billing_subscription_items where id = $1`,
    [id],
  );
  return row as unknown as StoredItem | undefined;
}

/** Every billing row of `payers`, as comparable JSON text, ordered. */
export async function payerRows(sql: postgres.Sql, payers: readonly string[]): Promise<string[]> {
  const rows = await sql.unsafe(
    `select 'subscription' as kind, row_to_json(x)::text as row from (
       select id, payer_user_id, payer_organization_id, status, active_at, past_due_at,
              clerk_updated_at
         from public.billing_subscriptions
        where coalesce(payer_user_id, payer_organization_id) = any($1)) x
     union all
     select 'item', row_to_json(x)::text from (
       select ${ITEM_COLUMNS} from public.billing_subscription_items
        where coalesce(payer_user_id, payer_organization_id) = any($1)) x
     union all
     select 'payment_attempt', row_to_json(x)::text from (
       select id, payer_user_id, payer_organization_id, status, charge_type, amount, currency,
              failed_reason, clerk_updated_at
         from public.billing_payment_attempts
        where coalesce(payer_user_id, payer_organization_id) = any($1)) x
     order by 1, 2`,
    [payers as string[]],
  );
  return rows.map((r) => `${r.kind} ${r.row}`);
}

/** `public.has_plan(slug)` as a signed-in caller with `claims` asks it. */
export function hasPlan(
  sql: postgres.Sql,
  claims: Record<string, unknown>,
  slug: string,
  role: "anon" | "authenticated" = "authenticated",
): Promise<boolean> {
  return asRole(sql, role, claims, async (tx) => {
    const [{ answer }] = await tx`select public.has_plan(${slug}) as answer`;
    return answer as boolean;
  });
}

/** `public.payer_has_plan(payer, slug)`, as server code asks it. */
export async function payerHasPlan(sql: postgres.Sql, payer: string, slug: string) {
  const [{ answer }] = await sql`select public.payer_has_plan(${payer}, ${slug}) as answer`;
  return answer as boolean;
}

/** Claims of a v1 and a v2 session token for `sub`, with `org` active. */
export function sessionClaims(sub: string, org?: string) {
  return {
    v1: { sub, ...(org ? { org_id: org, org_role: "org:admin", org_slug: "acme" } : {}) },
    v2: { sub, v: 2, ...(org ? { o: { id: org, rol: "admin", slg: "acme" } } : {}) },
  };
}

/** A Clerk Billing event as the webhook forwards it: data, and `ts` = Clerk's timestamp. */
export function billingEvent(
  type: BillingEventType,
  data: Record<string, unknown>,
  ts: number,
  id = billingTestId("msg"),
): RunEvent {
  return { id, name: `clerk/${type}`, data, ts };
}

/** The data of a built-in billing payload of `type`, patched. */
export function billingEventData(
  type: BillingEventType,
  payerId: string,
  at: number,
  patch: Record<string, unknown> = {},
): Record<string, unknown> {
  return { ...billingData(type, { payerId, at }), ...patch };
}

/** What the Backend API stand-in knows of Clerk Billing. */
export interface BillingStandIn {
  /** Every item, with its payer (user or organization id) and creation time. */
  readonly items: Map<string, { payer: string; data: Record<string, unknown> }>;
  /** Each payer's subscription (without `subscription_items`: those come from `items`). */
  readonly subscriptions: Map<string, Record<string, unknown>>;
  /** When set, the listing answers this status (Clerk Billing disabled). */
  unavailable?: number;
  /** When false, listed items carry no `payer` (only `payer_id`). */
  listPayers: boolean;
  /** Items the listing leaves out (as it may ended ones); their payer's subscription has them. */
  readonly unlisted: Set<string>;
  /**
   * When set, the listing answers from this copy of `items` (a list lagging
   * behind Clerk's data); a payer's subscription stays current.
   */
  frozen?: Map<string, { payer: string; data: Record<string, unknown> }>;
}

/**
 * Adds Clerk Billing's routes to the Clerk stand-in:
 * `GET /v1/billing/subscription_items` (newest first, `limit` 1 to 500,
 * `offset`, free plans only with `include_free=true`, `{data, total_count}`)
 * and `GET /v1/{users|organizations}/{id}/billing/subscription` (404
 * `resource_not_found` for a payer without one). They check the secret key
 * like the rest of the stand-in; they are not rate limited.
 */
export function serveBilling(clerk: ClerkApi): BillingStandIn {
  const standIn: BillingStandIn = {
    items: new Map(),
    subscriptions: new Map(),
    listPayers: true,
    unlisted: new Set(),
  };
  const refused = (req: Request) =>
    req.headers.get("authorization") === `Bearer ${clerk.secretKey}` ? undefined : Response.json(
      { errors: [{ code: "authentication_invalid", message: "Invalid authentication" }] },
      { status: 401 },
    );
  const payerObject = (payer: string) => ({
    object: "commerce_payer",
    id: `cpayer_${payer.slice(-20)}`,
    user_id: payer.startsWith("org_") ? "" : payer,
    organization_id: payer.startsWith("org_") ? payer : "",
    email: "someone@example.com",
    first_name: "Some",
    last_name: "One",
  });
  clerk.route("GET", /^\/v1\/billing\/subscription_items$/, async (req) => {
    const denied = refused(req);
    if (denied) return denied;
    if (standIn.unavailable) {
      return Response.json({ errors: [{ code: "feature_not_enabled", message: "Billing" }] }, {
        status: standIn.unavailable,
      });
    }
    const url = new URL(req.url);
    const limit = Number(url.searchParams.get("limit") ?? "10");
    const offset = Number(url.searchParams.get("offset") ?? "0");
    if (!Number.isInteger(limit) || limit < 1 || limit > 500 || !(offset >= 0)) {
      return Response.json({ errors: [{ code: "form_param_value_invalid" }] }, { status: 422 });
    }
    await clerk.onRequest(clerk.requests.at(-1)!);
    const free = url.searchParams.get("include_free") === "true";
    const all = [...(standIn.frozen ?? standIn.items).values()]
      .filter(({ data }) => !standIn.unlisted.has(data.id as string))
      .filter(({ data }) => free || (data.plan as { amount?: number } | null)?.amount !== 0)
      .sort((a, b) =>
        (b.data.created_at as number) - (a.data.created_at as number) ||
        String(a.data.id).localeCompare(String(b.data.id))
      );
    return Response.json({
      data: all.slice(offset, offset + limit).map(({ payer, data }) => ({
        ...data,
        payer_id: `cpayer_${payer.slice(-20)}`,
        ...(standIn.listPayers ? { payer: payerObject(payer) } : {}),
      })),
      total_count: all.length,
    });
  });
  clerk.route(
    "GET",
    /^\/v1\/(users|organizations)\/([^/]+)\/billing\/subscription$/,
    async (req, match) => {
      const denied = refused(req);
      if (denied) return denied;
      await clerk.onRequest(clerk.requests.at(-1)!);
      const subscription = standIn.subscriptions.get(decodeURIComponent(match[2]));
      if (!subscription) {
        return Response.json({ errors: [{ code: "resource_not_found", message: "not found" }] }, {
          status: 404,
        });
      }
      const payer = decodeURIComponent(match[2]);
      return Response.json({
        ...subscription,
        payer_id: `cpayer_${payer.slice(-20)}`,
        subscription_items: [...standIn.items.values()]
          .filter((entry) => entry.payer === payer)
          .map((entry) => ({ ...entry.data, payer_id: `cpayer_${payer.slice(-20)}` })),
      });
    },
  );
  return standIn;
}
