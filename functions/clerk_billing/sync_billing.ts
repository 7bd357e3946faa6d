/**
 * The three Clerk Billing workflows, one per family of events, each
 * writing what its event carries in one database call:
 *
 * - `sync-billing-subscription-from-clerk` (`clerk/subscription.*`): the
 *   subscription and the items it embeds, for its payer;
 * - `sync-billing-subscription-item-from-clerk` (`clerk/subscriptionItem.*`):
 *   the item, for the payer it names (an item event does not name its
 *   subscription in @clerk/backend's type; items are matched to payers);
 * - `sync-billing-payment-attempt-from-clerk` (`clerk/paymentAttempt.*`).
 *
 * Order does not matter for correctness: the SQL keeps the newest Clerk
 * `updated_at` per row and merges equal versions (the Clerk Billing
 * migration). One run per entity at a time keeps replays and retries of
 * one id from contending for its row. A payload without `updated_at` is
 * ordered by the event's `ts`, the envelope's timestamp (Clerk's clock, the
 * same on every retry), never by when it is processed.
 */
import type { Inngest } from "inngest";
import type { z } from "zod";
import {
  billingPaymentAttemptEventSchema,
  billingSubscriptionEventSchema,
  billingSubscriptionItemEventSchema,
  payerIdOf,
} from "../clerk/billing_schemas.ts";
import { loggedWrite, parseInput } from "../inngest/step_errors.ts";
import type { Logger } from "../util/log.ts";
import {
  PAYMENT_ATTEMPT_TRIGGER,
  SUBSCRIPTION_ITEM_TRIGGER,
  SUBSCRIPTION_TRIGGER,
} from "./events.ts";
import {
  type BillingBatch,
  subscriptionEventBatch,
  toPaymentAttemptRow,
  toSubscriptionItemRow,
} from "./rows.ts";
import type { BillingStore } from "./store.ts";

/** The function ids. */
export const SYNC_SUBSCRIPTION_FUNCTION_ID = "sync-billing-subscription-from-clerk";
export const SYNC_SUBSCRIPTION_ITEM_FUNCTION_ID = "sync-billing-subscription-item-from-clerk";
export const SYNC_PAYMENT_ATTEMPT_FUNCTION_ID = "sync-billing-payment-attempt-from-clerk";

/** Dependencies of the billing workflows. */
export interface BillingWorkflowDeps {
  /** Resolved on first use, so the webhook path loads none of it. */
  readonly store: () => Promise<BillingStore>;
  readonly logger: Logger;
}

/** One workflow: its id, trigger, and how its event becomes a batch. */
interface BillingWorkflow<T> {
  readonly id: string;
  readonly name: string;
  readonly trigger: string;
  /** What the event is, for messages: `subscription`. */
  readonly what: string;
  readonly schema: z.ZodType<T>;
  /** The batch to write; `fallback` is the event's `ts` (epoch ms). */
  readonly batch: (data: T, fallback: number) => BillingBatch;
  /** Ids for the log line (never more personal data than an id). */
  readonly fields: (data: T) => Record<string, string | undefined>;
}

const payerFields = (payer: { user_id?: string | null; organization_id?: string | null }) => {
  const id = payerIdOf(payer);
  return { payer_user_id: id?.userId, payer_organization_id: id?.organizationId };
};

const workflows = [
  {
    id: SYNC_SUBSCRIPTION_FUNCTION_ID,
    name: "Sync Clerk Billing subscription",
    trigger: SUBSCRIPTION_TRIGGER,
    what: "subscription",
    schema: billingSubscriptionEventSchema,
    batch: subscriptionEventBatch,
    fields: (data) => ({ subscription_id: data.id, ...payerFields(data.payer) }),
  } satisfies BillingWorkflow<z.infer<typeof billingSubscriptionEventSchema>>,
  {
    id: SYNC_SUBSCRIPTION_ITEM_FUNCTION_ID,
    name: "Sync Clerk Billing subscription item",
    trigger: SUBSCRIPTION_ITEM_TRIGGER,
    what: "subscription item",
    schema: billingSubscriptionItemEventSchema,
    batch: (item, fallback) => ({
      subscriptions: [],
      items: [toSubscriptionItemRow(item, payerIdOf(item.payer)!, fallback)],
      paymentAttempts: [],
    }),
    fields: (data) => ({ subscription_item_id: data.id, ...payerFields(data.payer) }),
  } satisfies BillingWorkflow<z.infer<typeof billingSubscriptionItemEventSchema>>,
  {
    id: SYNC_PAYMENT_ATTEMPT_FUNCTION_ID,
    name: "Sync Clerk Billing payment attempt",
    trigger: PAYMENT_ATTEMPT_TRIGGER,
    what: "payment attempt",
    schema: billingPaymentAttemptEventSchema,
    batch: (attempt, fallback) => ({
      subscriptions: [],
      items: [],
      paymentAttempts: [toPaymentAttemptRow(attempt, fallback)],
    }),
    fields: (data) => ({ payment_attempt_id: data.id, ...payerFields(data.payer) }),
  } satisfies BillingWorkflow<z.infer<typeof billingPaymentAttemptEventSchema>>,
] as const;

/** Creates the three billing workflows on `client`. */
export function createBillingFunctions(client: Inngest, deps: BillingWorkflowDeps) {
  return workflows.map((workflow) =>
    createBillingFunction(client, deps, workflow as BillingWorkflow<unknown>)
  );
}

function createBillingFunction<T>(
  client: Inngest,
  deps: BillingWorkflowDeps,
  workflow: BillingWorkflow<T>,
) {
  return client.createFunction(
    {
      id: workflow.id,
      name: workflow.name,
      triggers: [{ event: workflow.trigger }],
      // One run per entity at a time; any order is correct (see above).
      concurrency: { key: "event.data.id", limit: 1 },
      retries: 10,
    },
    async ({ event, step }) => {
      const action = `Cannot sync Clerk billing ${workflow.what}`;
      const data = parseInput(workflow.schema, event.data, action);
      // Clerk's envelope timestamp, the same on every retry. Inngest always
      // sets one; without it, the epoch, which never outranks a dated version.
      const batch = workflow.batch(data, event.ts ?? 0);
      const fields = { ...workflow.fields(data), event: event.name, event_id: event.id };
      const outcomes = await step.run(
        `apply-${workflow.what.replaceAll(" ", "-")}`,
        () =>
          loggedWrite(
            deps.logger,
            "Clerk billing synced",
            fields,
            `${action} from ${event.name}`,
            async () => {
              const outcomes = await (await deps.store()).apply(batch);
              const all = [
                ...outcomes.subscriptions,
                ...outcomes.items,
                ...outcomes.payment_attempts,
              ];
              return { ...outcomes, outcome: all.join(",") };
            },
          ),
      );
      return { id: (data as { id: string }).id, ...outcomes };
    },
  );
}
