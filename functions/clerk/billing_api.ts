/**
 * Clerk's Backend API for Clerk Billing, over the same GET (and so the same
 * request budget and typed errors) as the users and organizations clients:
 *
 * - `GET /v1/billing/subscription_items`: every subscription item of the
 *   instance, users' and organizations', newest first, `{data,
 *   total_count}` pages of up to 500 (`include_free=true` keeps the default
 *   free plans' items in);
 * - `GET /v1/users/{id}/billing/subscription` and
 *   `GET /v1/organizations/{id}/billing/subscription`: one payer's
 *   subscription with its `subscription_items`.
 *
 * There is no list of subscriptions, and no list of payment attempts but
 * per billing statement. Items are reduced to the fields the schema reads
 * before they are validated; a listed item's payer is read only for its id.
 */
import {
  ClerkApiError,
  type ClerkGet,
  failure,
  isNotFound,
  MAX_PAGE_SIZE,
  readJson,
} from "./backend_api.ts";
import {
  type BillingSubscription,
  type BillingSubscriptionItem,
  billingSubscriptionItemSchema,
  billingSubscriptionSchema,
  type PayerId,
  payerIdOf,
} from "./billing_schemas.ts";
import { type ClerkPage, type PageQuery, parsed, record } from "./organizations_api.ts";

/** A listed item, and the payer it names (undefined when it names none). */
export interface ListedBillingItem {
  readonly item: BillingSubscriptionItem;
  readonly payer: PayerId | undefined;
}

/**
 * Clerk answered the billing listing with 403, 404 or 422: Clerk Billing
 * is not enabled for the instance (or not for this key).
 */
export class ClerkBillingUnavailableError extends ClerkApiError {
  constructor(message: string, status: number) {
    super(message, status, true);
    this.name = "ClerkBillingUnavailableError";
  }
}

/** The Clerk Billing calls this project makes. */
export interface ClerkBillingApi {
  /**
   * `GET /v1/billing/subscription_items`, newest first, free plans
   * included; throws {@link ClerkBillingUnavailableError} when the instance
   * has no Clerk Billing.
   */
  listSubscriptionItems(query: PageQuery): Promise<ClerkPage<ListedBillingItem>>;
  /** The payer's subscription, or `null` when Clerk has none (404 `resource_not_found`). */
  getPayerSubscription(payer: PayerId): Promise<BillingSubscription | null>;
}

/** Creates the client over `get` (see `createClerkGet`). */
export function createClerkBillingApi(get: ClerkGet): ClerkBillingApi {
  return {
    async listSubscriptionItems(query) {
      const action = `Cannot list Clerk billing subscription items at offset ${query.offset}`;
      if (!Number.isInteger(query.limit) || query.limit < 1 || query.limit > MAX_PAGE_SIZE) {
        throw new RangeError(`${action}: limit must be 1 to ${MAX_PAGE_SIZE}`);
      }
      const params = new URLSearchParams({
        limit: String(query.limit),
        offset: String(query.offset),
        include_free: "true",
        paginated: "true",
      });
      const res = await get(`/v1/billing/subscription_items?${params}`, action);
      if ([403, 404, 422].includes(res.status)) {
        const refused = await failure(res, action);
        throw new ClerkBillingUnavailableError(
          `${refused.message}: Clerk Billing looks disabled for this instance`,
          res.status,
        );
      }
      if (!res.ok) throw await failure(res, action);
      const body = await readJson(res, action) as { data?: unknown; total_count?: unknown };
      if (
        typeof body !== "object" || body === null || !Array.isArray(body.data) ||
        typeof body.total_count !== "number"
      ) {
        throw new ClerkApiError(`${action}: expected {data, total_count}`, res.status, false);
      }
      return {
        data: body.data.map((value, i) => listedItem(value, `${action}: item ${i}`)),
        totalCount: body.total_count,
      };
    },

    async getPayerSubscription(payer) {
      const path = payer.organizationId
        ? `/v1/organizations/${encodeURIComponent(payer.organizationId)}/billing/subscription`
        : `/v1/users/${encodeURIComponent(payer.userId!)}/billing/subscription`;
      const action = `Cannot get the Clerk billing subscription of "${
        payer.organizationId ?? payer.userId
      }"`;
      const res = await get(path, action);
      if (await isNotFound(res, action)) return null;
      if (!res.ok) throw await failure(res, action);
      const body = record(await readJson(res, action));
      const items = Array.isArray(body?.subscription_items)
        ? body.subscription_items.map(knownItem)
        : body?.subscription_items;
      return parsed(
        billingSubscriptionSchema,
        {
          id: body?.id,
          status: body?.status,
          active_at: body?.active_at,
          past_due_at: body?.past_due_at,
          updated_at: body?.updated_at,
          subscription_items: items,
        },
        action,
        "subscription",
      );
    },
  };
}

function listedItem(value: unknown, action: string): ListedBillingItem {
  const payer = record(record(value)?.payer);
  return {
    item: parsed(
      billingSubscriptionItemSchema,
      knownItem(value),
      action,
      "billing subscription item",
    ),
    payer: payerIdOf({
      user_id: typeof payer?.user_id === "string" ? payer.user_id : undefined,
      organization_id: typeof payer?.organization_id === "string"
        ? payer.organization_id
        : undefined,
    }),
  };
}

/** Only the fields the schema reads: never the payer's email or names. */
function knownItem(value: unknown): unknown {
  const item = record(value);
  if (!item) return value;
  const plan = record(item.plan);
  return {
    id: item.id,
    status: item.status,
    plan: plan ? { id: plan.id, slug: plan.slug } : item.plan,
    plan_id: item.plan_id,
    plan_period: item.plan_period,
    interval: item.interval,
    is_free_trial: item.is_free_trial,
    period_start: item.period_start,
    period_end: item.period_end,
    canceled_at: item.canceled_at,
    updated_at: item.updated_at,
  };
}
