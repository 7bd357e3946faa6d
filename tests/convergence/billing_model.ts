/**
 * Clerk Billing's truth in a history (issue 28): each payer's subscription,
 * its items and its payment attempts, as Clerk holds them, changed by
 * {@link BillingAction}s on Clerk's clock (the one of `clerk_model.ts`).
 *
 * Each change is written to the Backend API stand-in's billing routes (the
 * listing of every item, and each payer's subscription, which the reconcile
 * reads) and becomes the webhook messages Clerk sends for it: one per item
 * that changed (`subscriptionItem.active`, `.canceled`, `.upcoming`,
 * `.ended`, `.updated`, `.pastDue` or its old spelling `.past_due`), one for
 * the subscription, which embeds its items (`subscription.created`,
 * `.updated`, `.active`, `.pastDue`), and one per version of a payment
 * attempt (`paymentAttempt.created` pending, `paymentAttempt.updated` paid
 * or failed).
 *
 * Every version of an object has its own `updated_at`: a charge is created
 * at one millisecond and settled at the next, and what the settlement
 * changes (items, the subscription) carries the later one. An item's
 * embedded copy in a subscription event is the same version as its own
 * event's.
 *
 * Payers: payer 0 is a user, payer 1 an organization. They exist only as
 * billing payers here (the users' and organizations' histories cover those
 * mirrors; billing rows do not depend on them).
 */
import type { BillingStandIn } from "../support/clerk_billing.ts";

/** The plans a payer can buy (each payer also has Clerk's default free plan implicitly: not modeled). */
export type Plan = "pro" | "team";

/** A change Clerk Billing makes. */
export type BillingAction =
  /** The payer checks out a plan: a subscription (created if none) with a new active item. */
  | { readonly do: "subscribe"; readonly payer: number; readonly plan: Plan }
  /**
   * The payer switches its active item to another plan: at once (the old
   * item ends, the new one is active) or at the period's end (the old item is
   * canceled with its period end, the new one upcoming from then).
   */
  | {
    readonly do: "switchPlan";
    readonly payer: number;
    readonly plan: Plan;
    readonly now: boolean;
  }
  /** The payer cancels: its active items are canceled, and keep the plan until `period_end`. */
  | { readonly do: "cancel"; readonly payer: number }
  /** The period ends: canceled items end, upcoming ones start, the others roll over. */
  | { readonly do: "periodEnds"; readonly payer: number }
  /**
   * A recurring charge: a payment attempt, pending then paid or failed. A
   * failure makes the active items and the subscription past due; a payment
   * brings past-due ones back to active.
   */
  | { readonly do: "charge"; readonly payer: number; readonly paid: boolean };

/** The kinds of billing action. */
export const BILLING_ACTIONS: readonly BillingAction["do"][] = [
  "subscribe",
  "switchPlan",
  "cancel",
  "periodEnds",
  "charge",
];

/** An item as Clerk holds it (the Backend API's shape, without the payer). */
export interface ItemTruth {
  readonly id: string;
  current: Record<string, unknown>;
}

/** One version of a payment attempt, and the message that carried it. */
export interface AttemptVersion {
  readonly n: number;
  readonly at: number;
  readonly status: string;
}

/** A payment attempt and its versions, oldest first. */
export interface AttemptTruth {
  readonly id: string;
  readonly versions: AttemptVersion[];
}

/** A payer of the history. */
export interface PayerTruth {
  readonly index: number;
  /** `user_…` or `org_…`. */
  readonly id: string;
  subscription?: { readonly id: string; current: Record<string, unknown> };
  readonly items: ItemTruth[];
  readonly attempts: AttemptTruth[];
}

/** What the billing model borrows from the Clerk model: its clock, ids and messages. */
export interface BillingHost {
  now(): number;
  /** Moves Clerk's clock one millisecond (a second version of the same object). */
  tick(): void;
  id(prefix: string): string;
  /** Records a message; returns its `n`. */
  message(type: string, objectId: string, data: Record<string, unknown>): number;
}

const DAY = 24 * 60 * 60 * 1000;
const PERIOD = 30 * DAY;
const INSTANCE_ID = "ins_convergence";
const AMOUNT: Readonly<Record<Plan, number>> = { pro: 2_000, team: 5_000 };

/** Item statuses that still hold the payer's place in a plan (the item is not over). */
const CURRENT = ["active", "past_due", "canceled", "upcoming"];

/** Whether an item in Clerk's state `item` gives its plan at `at` (Clerk keeps a canceled plan until its period ends). */
export function grantsPlan(item: Record<string, unknown>, at: number): boolean {
  const end = item.period_end as number | null;
  return (item.status === "active" && (end === null || end > at)) ||
    (item.status === "canceled" && end !== null && end > at);
}

/** Clerk Billing's side of a history. */
export class BillingModel {
  readonly payers = new Map<number, PayerTruth>();
  readonly #host: BillingHost;
  readonly #standIn: BillingStandIn | undefined;
  /** Whether the listing lags (a frozen copy of the items). */
  #lagging = false;
  /** Each past-due version alternates the two spellings Clerk used. */
  #pastDues = 0;

  constructor(host: BillingHost, standIn: BillingStandIn | undefined) {
    this.#host = host;
    this.#standIn = standIn;
  }

  /** Clerk's listing starts lagging behind its items (a frozen copy), or catches up. */
  lagLists(lag: boolean): void {
    if (!this.#standIn) return;
    this.#lagging = lag;
    this.#standIn.frozen = lag ? new Map(this.#standIn.items) : undefined;
  }

  /** Applies `action` at the host's clock; returns the messages' `n` (none if it does not apply). */
  apply(action: BillingAction): number[] {
    const payer = this.#payer(action.payer);
    switch (action.do) {
      case "subscribe":
        return this.#subscribe(payer, action.plan);
      case "switchPlan":
        return this.#switch(payer, action.plan, action.now);
      case "cancel":
        return this.#cancel(payer);
      case "periodEnds":
        return this.#periodEnds(payer);
      case "charge":
        return this.#charge(payer, action.paid);
    }
  }

  #payer(index: number): PayerTruth {
    let payer = this.payers.get(index);
    if (!payer) {
      const id = this.#host.id(index % 2 === 0 ? "user" : "org");
      payer = { index, id, items: [], attempts: [] };
      this.payers.set(index, payer);
    }
    return payer;
  }

  #current(payer: PayerTruth, ...statuses: string[]): ItemTruth[] {
    return payer.items.filter((i) => statuses.includes(i.current.status as string));
  }

  #subscribe(payer: PayerTruth, plan: Plan): number[] {
    if (this.#current(payer, ...CURRENT).length) return [];
    const n = this.#attempt(payer, "checkout", [plan], true);
    const item = this.#newItem(payer, plan, "active", this.#host.now());
    n.push(this.#itemMessage(payer, item, "subscriptionItem.active"));
    n.push(this.#subscriptionChanged(payer));
    return n;
  }

  #switch(payer: PayerTruth, plan: Plan, now: boolean): number[] {
    const [old] = this.#current(payer, "active");
    if (!old || planOf(old) === plan || this.#current(payer, "upcoming", "past_due").length) {
      return [];
    }
    const n: number[] = [];
    if (now) {
      n.push(...this.#attempt(payer, "checkout", [plan], true));
      this.#change(old, { status: "ended" });
      n.push(this.#itemMessage(payer, old, "subscriptionItem.ended"));
      const next = this.#newItem(payer, plan, "active", this.#host.now());
      n.push(this.#itemMessage(payer, next, "subscriptionItem.active"));
    } else {
      const end = old.current.period_end as number;
      this.#change(old, { status: "canceled", canceled_at: this.#host.now() });
      n.push(this.#itemMessage(payer, old, "subscriptionItem.canceled"));
      const next = this.#newItem(payer, plan, "upcoming", end);
      n.push(this.#itemMessage(payer, next, "subscriptionItem.upcoming"));
    }
    n.push(this.#subscriptionChanged(payer));
    return n;
  }

  #cancel(payer: PayerTruth): number[] {
    const active = this.#current(payer, "active");
    if (!active.length) return [];
    const n = active.map((item) => {
      this.#change(item, { status: "canceled", canceled_at: this.#host.now() });
      return this.#itemMessage(payer, item, "subscriptionItem.canceled");
    });
    n.push(this.#subscriptionChanged(payer));
    return n;
  }

  #periodEnds(payer: PayerTruth): number[] {
    const items = this.#current(payer, ...CURRENT);
    if (!items.length) return [];
    const n = items.map((item) => {
      const status = item.current.status as string;
      const start = item.current.period_end as number;
      if (status === "canceled") {
        this.#change(item, { status: "ended" });
        return this.#itemMessage(payer, item, "subscriptionItem.ended");
      }
      if (status === "upcoming") {
        this.#change(item, { status: "active" });
        return this.#itemMessage(payer, item, "subscriptionItem.active");
      }
      this.#change(item, { period_start: start, period_end: start + PERIOD });
      return this.#itemMessage(payer, item, "subscriptionItem.updated");
    });
    n.push(this.#subscriptionChanged(payer));
    return n;
  }

  #charge(payer: PayerTruth, paid: boolean): number[] {
    const charged = this.#current(payer, "active", "past_due");
    if (!charged.length) return [];
    const n = this.#attempt(payer, "recurring", charged.map(planOf), paid);
    const from = paid ? "past_due" : "active";
    const changed = charged.filter((item) => item.current.status === from);
    for (const item of changed) {
      if (paid) {
        this.#change(item, { status: "active", past_due_at: null });
        n.push(this.#itemMessage(payer, item, "subscriptionItem.active"));
      } else {
        this.#change(item, { status: "past_due", past_due_at: this.#host.now() });
        n.push(this.#itemMessage(payer, item, this.#pastDueType("subscriptionItem")));
      }
    }
    if (changed.length) n.push(this.#subscriptionChanged(payer));
    return n;
  }

  /**
   * A payment attempt, pending then settled one millisecond later: two
   * messages. The clock stays on the settlement's millisecond, so that what
   * it changes comes after.
   */
  #attempt(payer: PayerTruth, chargeType: string, plans: Plan[], paid: boolean): number[] {
    const id = this.#host.id("pa");
    const created = this.#host.now();
    const amount = plans.reduce((sum, p) => sum + AMOUNT[p], 0);
    const attempt: AttemptTruth = { id, versions: [] };
    payer.attempts.push(attempt);
    const data = (status: string): Record<string, unknown> => ({
      object: "commerce_payment_attempt",
      id,
      instance_id: INSTANCE_ID,
      payment_id: `cpa_${id.slice(3)}`,
      status,
      created_at: created,
      updated_at: this.#host.now(),
      paid_at: status === "paid" ? this.#host.now() : null,
      failed_at: status === "failed" ? this.#host.now() : null,
      failed_reason: status === "failed"
        ? { code: "card_declined", decline_code: "insufficient_funds" }
        : null,
      billing_date: created,
      charge_type: chargeType,
      payer: payerObject(payer.id),
      totals: { subtotal: money(amount), tax_total: money(0), grand_total: money(amount) },
    });
    const version = (type: string, status: string) => {
      const n = this.#host.message(type, id, data(status));
      attempt.versions.push({ n, at: this.#host.now(), status });
      return n;
    };
    const first = version("paymentAttempt.created", "pending");
    this.#host.tick();
    return [first, version("paymentAttempt.updated", paid ? "paid" : "failed")];
  }

  #newItem(payer: PayerTruth, plan: Plan, status: string, start: number): ItemTruth {
    const now = this.#host.now();
    const id = this.#host.id("csub_item");
    const item: ItemTruth = {
      id,
      current: {
        object: "commerce_subscription_item",
        id,
        instance_id: INSTANCE_ID,
        status,
        plan_period: "month",
        period_start: start,
        period_end: start + PERIOD,
        canceled_at: null,
        past_due_at: null,
        is_free_trial: false,
        created_at: now,
        updated_at: now,
        amount: money(AMOUNT[plan]),
        plan: {
          id: `cplan_${plan}`,
          instance_id: INSTANCE_ID,
          name: plan[0].toUpperCase() + plan.slice(1),
          slug: plan,
          amount: AMOUNT[plan],
          currency: "USD",
          is_default: false,
          is_recurring: true,
          period: "month",
        },
        plan_id: `cplan_${plan}`,
      },
    };
    payer.items.push(item);
    this.#publishItem(payer, item);
    return item;
  }

  /** A new version of `item` (the stand-in is updated by the item's message). */
  #change(item: ItemTruth, patch: Record<string, unknown>): void {
    item.current = { ...item.current, ...patch, updated_at: this.#host.now() };
  }

  #publishItem(payer: PayerTruth, item: ItemTruth): void {
    this.#standIn?.items.set(item.id, { payer: payer.id, data: structuredClone(item.current) });
  }

  #itemMessage(payer: PayerTruth, item: ItemTruth, type: string): number {
    this.#publishItem(payer, item);
    const data: Record<string, unknown> = {
      ...structuredClone(item.current),
      payer: payerObject(payer.id),
    };
    if (type.endsWith("past_due")) data.status = "pastDue";
    return this.#host.message(type, item.id, data);
  }

  #pastDueType(family: string): string {
    this.#pastDues += 1;
    return `${family}.${this.#pastDues % 2 ? "pastDue" : "past_due"}`;
  }

  /**
   * The subscription after its items changed: past due if an item is,
   * active if one is current, else ended. One message, embedding the items.
   */
  #subscriptionChanged(payer: PayerTruth): number {
    const now = this.#host.now();
    const status = this.#current(payer, "past_due").length
      ? "past_due"
      : this.#current(payer, ...CURRENT).length
      ? "active"
      : "ended";
    let type: string;
    if (!payer.subscription) {
      const id = this.#host.id("csub");
      payer.subscription = {
        id,
        current: {
          object: "commerce_subscription",
          id,
          instance_id: INSTANCE_ID,
          status,
          active_at: now,
          past_due_at: null,
          canceled_at: null,
          ended_at: null,
          created_at: now,
          updated_at: now,
          payer_id: `cpayer_${payer.id.slice(-20)}`,
        },
      };
      type = "subscription.created";
    } else {
      const before = payer.subscription.current.status;
      type = status === before
        ? "subscription.updated"
        : status === "past_due"
        ? this.#pastDueType("subscription")
        : status === "active"
        ? "subscription.active"
        : "subscription.updated";
      payer.subscription.current = {
        ...payer.subscription.current,
        status,
        ...(status === "active" && before !== "active" ? { active_at: now } : {}),
        past_due_at: status === "past_due"
          ? (before === "past_due" ? payer.subscription.current.past_due_at : now)
          : null,
        ended_at: status === "ended" ? now : null,
        updated_at: now,
      };
    }
    this.#standIn?.subscriptions.set(payer.id, structuredClone(payer.subscription.current));
    const data: Record<string, unknown> = {
      ...structuredClone(payer.subscription.current),
      payer: payerObject(payer.id),
      items: payer.items.map((i) => ({ ...structuredClone(i.current), payer: null })),
    };
    if (type.endsWith("past_due")) data.status = "pastDue";
    return this.#host.message(type, payer.subscription.id, data);
  }
}

/** The plan slug of an item. */
export function planOf(item: ItemTruth): Plan {
  return (item.current.plan as { slug: Plan }).slug;
}

/** Clerk's payer object: the other kind's id is `""`; it has an address, never stored. */
function payerObject(payer: string): Record<string, unknown> {
  const organization = payer.startsWith("org_");
  return {
    object: "commerce_payer",
    id: `cpayer_${payer.slice(-20)}`,
    instance_id: INSTANCE_ID,
    user_id: organization ? "" : payer,
    organization_id: organization ? payer : "",
    email: `billing.${payer.slice(-8).toLowerCase()}@example.org`,
    first_name: organization ? "" : "Ada",
    last_name: organization ? "" : "Lovelace",
    organization_name: organization ? "Acme" : "",
  };
}

function money(amount: number) {
  return {
    amount,
    amount_formatted: `$${(amount / 100).toFixed(2)}`,
    currency: "USD",
    currency_symbol: "$",
  };
}
