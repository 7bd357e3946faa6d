/**
 * What must hold once a history has come to rest (`simulate.ts`), whatever
 * happened in it. Each check compares the tables and the providers with
 * Clerk's truth (the model), never with the calls the app made:
 *
 * 1. Mirrors: every row of `users`, `organizations` and
 *    `organization_memberships` equals Clerk's object, or is a tombstone of
 *    one Clerk deleted (or is absent for one Clerk deleted).
 * 2. At most one live membership per (organization, user).
 * 3. Newsletter: the provider holds the user subscribed (Mailchimp
 *    `subscribed` or `pending`, Resend not `unsubscribed` and in the
 *    segment) exactly when Clerk's latest consent is true, unless an
 *    opt-out came after the consent was last given. "Given" means a state
 *    with consent whose predecessor had none, among the states Clerk showed
 *    the app (the messages delivered, and the current state, which the final
 *    reconcile reads), ordered by Clerk's `updated_at`, not by arrival.
 * 4. Stripe: exactly one live customer, with one trial, for each live user
 *    whose `user.created` was delivered, none for the others; none alive
 *    for a deleted user.
 * 5. A deleted user leaves no address, MD5 of an address or name in any
 *    table of the public schema, nor at the newsletter's provider.
 * 6. Every email at most once: counted from every request Resend received
 *    (a replay of the same key within 24 hours is not a new email).
 * 7. A run fails only for a fault no retry can outlast: when every fault of
 *    the history was transient (429, 5xx, a lost answer, a timeout) or a
 *    401 of half an hour at most, no run failed; a replayed Stripe run and the
 *    final reconcile always complete.
 * 8. Clerk Billing (`billing_model.ts`): every item of Clerk's has its row in
 *    `billing_subscription_items` with Clerk's payer, `plan_slug`, `status`,
 *    `period_end`, `canceled_at` and `updated_at`, and the payers have no
 *    other item rows; each payer's row in `billing_subscriptions` has
 *    Clerk's payer and status; `public.payer_has_plan(payer, slug)` answers,
 *    for every plan, what Clerk's items say now (an active item within its
 *    period, or a canceled one until its period ends). Payment attempts:
 *    the Backend API lists them only per statement, so the reconcile cannot
 *    see them and a lost message cannot be repaired: each attempt's row has
 *    the status of the newest version delivered (Clerk's latest when that
 *    one was delivered), and there is none for an attempt no message of
 *    which was delivered.
 */
import type postgres from "postgres";
import { AUTH_RETRY_MS } from "../../functions/inngest/step_errors.ts";
import { tallyByKey } from "../support/email_counts.ts";
import { md5Hash } from "../support/mailchimp_api.ts";
import { grantsPlan, type Plan } from "./billing_model.ts";
import { consentOf, type Message, primaryAddress } from "./clerk_model.ts";
import type { OptOut, Played } from "./simulate.ts";
import { NEWSLETTER_SEGMENT_ID } from "./world.ts";

/** Checks every invariant; returns one line per divergence (none when the world agrees with Clerk). */
export async function divergences(sql: postgres.Sql, played: Played): Promise<string[]> {
  const found: string[] = [];
  await mirrors(sql, played, found);
  await memberships(sql, played, found);
  newsletter({ ...played, optOuts: await recordedOptOuts(sql, played) }, found);
  stripe(played, found);
  await personalData(sql, played, found);
  emails(played, found);
  runs(played, found);
  await billing(sql, played, found);
  return found;
}

const iso = (ms: number) => new Date(ms).toISOString();
const time = (value: Date | null) => value ? value.toISOString() : null;

async function mirrors(sql: postgres.Sql, { model }: Played, found: string[]) {
  for (const user of model.users.values()) {
    const [row] = await sql<{
      email: string | null;
      first_name: string | null;
      last_name: string | null;
      clerk_updated_at: Date | null;
      deleted_at: Date | null;
    }[]>`select email, first_name, last_name, clerk_updated_at, deleted_at
           from public.users where id = ${user.id}`;
    const who = `user ${user.index} (${user.id})`;
    if (user.deleted) {
      if (row && !row.deleted_at) found.push(`${who}: deleted in Clerk, live in public.users`);
      continue;
    }
    const want = {
      email: primaryAddress(user.current),
      first_name: user.current.first_name,
      last_name: user.current.last_name,
      clerk_updated_at: iso(user.current.updated_at),
      deleted_at: null,
    };
    const have = row && {
      email: row.email,
      first_name: row.first_name,
      last_name: row.last_name,
      clerk_updated_at: time(row.clerk_updated_at),
      deleted_at: time(row.deleted_at),
    };
    if (JSON.stringify(have) !== JSON.stringify(want)) {
      found.push(`${who}: public.users has ${JSON.stringify(have)}, Clerk ${JSON.stringify(want)}`);
    }
  }
  for (const org of model.orgs.values()) {
    const [row] = await sql<{
      name: string | null;
      slug: string | null;
      public_metadata: unknown;
      clerk_updated_at: Date | null;
      deleted_at: Date | null;
    }[]>`select name, slug, public_metadata, clerk_updated_at, deleted_at
           from public.organizations where id = ${org.id}`;
    const who = `organization ${org.index} (${org.id})`;
    if (org.deleted) {
      if (row && (!row.deleted_at || row.name !== null || row.public_metadata !== null)) {
        found.push(`${who}: deleted in Clerk, not a tombstone: ${JSON.stringify(row)}`);
      }
      continue;
    }
    const want = {
      name: org.current.name,
      slug: org.current.slug,
      public_metadata: org.current.public_metadata,
      clerk_updated_at: iso(org.current.updated_at),
      deleted_at: null,
    };
    const have = row &&
      { ...row, clerk_updated_at: time(row.clerk_updated_at), deleted_at: time(row.deleted_at) };
    if (JSON.stringify(have) !== JSON.stringify(want)) {
      found.push(
        `${who}: public.organizations has ${JSON.stringify(have)}, Clerk ${JSON.stringify(want)}`,
      );
    }
  }
}

async function memberships(sql: postgres.Sql, { model }: Played, found: string[]) {
  const ids = model.memberships.map((m) => m.id);
  const users = [...model.users.values()].map((u) => u.id);
  if (!users.length) return;
  const rows = await sql<{
    id: string;
    organization_id: string;
    user_id: string;
    role: string | null;
    deleted_at: Date | null;
  }[]>`select id, organization_id, user_id, role, deleted_at
         from public.organization_memberships where user_id = any(${users})`;
  const live = new Map<string, string[]>();
  for (const row of rows) {
    if (row.deleted_at) continue;
    const pair = `${row.organization_id} ${row.user_id}`;
    live.set(pair, [...live.get(pair) ?? [], row.id]);
  }
  for (const [pair, mine] of live) {
    if (mine.length > 1) {
      found.push(`pair ${pair}: ${mine.length} live memberships (${mine.join(", ")})`);
    }
  }
  for (const m of model.memberships) {
    const row = rows.find((r) => r.id === m.id);
    const isLive = !m.ended && !model.orgs.get(m.org)!.deleted && !model.users.get(m.user)!.deleted;
    const who = `membership ${m.id} (org ${m.org}, user ${m.user})`;
    if (isLive) {
      if (!row || row.deleted_at || row.role !== m.current.role) {
        found.push(
          `${who}: live in Clerk as ${m.current.role}, table has ${JSON.stringify(row ?? null)}`,
        );
      }
    } else if (row && !row.deleted_at) {
      found.push(`${who}: ended in Clerk, live in the table`);
    }
  }
  for (const row of rows) {
    if (!row.deleted_at && !ids.includes(row.id)) {
      found.push(`membership ${row.id}: live, unknown to Clerk`);
    }
  }
}

/** Whether Clerk's shown states of a user give consent now, given its opt-outs (see the module doc). */
export function expectSubscribed(
  shown: readonly { at: number; consent: boolean }[],
  optOuts: readonly OptOut[],
): boolean {
  const states = [...shown].sort((a, b) => a.at - b.at);
  const last = states[states.length - 1];
  if (!last?.consent) return false;
  const optedOut = Math.max(-Infinity, ...optOuts.map((o) => o.at));
  return states.some((state, i) =>
    state.consent && (i === 0 || !states[i - 1].consent) && state.at > optedOut
  );
}

/**
 * The opt-outs that happened: every answered one, and a one-click answered
 * with an error only when the app recorded it anyway (the person clicked; a
 * lost answer does not undo the click, nor make it certain).
 */
async function recordedOptOuts(sql: postgres.Sql, { model, optOuts }: Played): Promise<OptOut[]> {
  const happened: OptOut[] = [];
  for (const optOut of optOuts) {
    const user = model.users.get(optOut.user);
    if (optOut.unansweredSince === undefined || !user) {
      happened.push(optOut);
      continue;
    }
    const [row] = await sql<{ at: Date | null }[]>`
      select newsletter_opt_out_at as at from public.email_preferences where user_id = ${user.id}`;
    if (row?.at && row.at.getTime() >= optOut.unansweredSince) happened.push(optOut);
  }
  return happened;
}

function newsletter({ model, world, delivered, optOuts }: Played, found: string[]) {
  for (const user of model.users.values()) {
    if (user.deleted) continue;
    const shown = model.messages
      .filter((m: Message) =>
        m.objectId === user.id && m.consent !== undefined && delivered.has(m.n)
      )
      .map((m) => ({ at: m.at, consent: m.consent! }));
    shown.push({ at: user.current.updated_at, consent: consentOf(user.current) });
    const mine = optOuts.filter((o) => o.user === user.index);
    const want = expectSubscribed(shown, mine);
    const address = primaryAddress(user.current)!;
    const states = [...user.addresses].map((a) => [a, providerState(world, a)] as const);
    const subscribedAt = states.filter(([, s]) => s === "in").map(([a]) => a);
    const who = `user ${user.index} (${user.id})`;
    const story = `consent shown ${JSON.stringify(shown.map((s) => [iso(s.at), s.consent]))}, ` +
      `opt-outs ${JSON.stringify(mine.map((o) => [o.source, iso(o.at)]))}`;
    if (want && !subscribedAt.includes(address)) {
      found.push(
        `${who}: not subscribed at ${world.provider} under the current address; ${story}; ` +
          `provider: ${JSON.stringify(states)}`,
      );
    }
    const wrong = subscribedAt.filter((a) => !want || a !== address);
    if (wrong.length) {
      found.push(
        `${who}: subscribed at ${world.provider} ${wrong.length} time(s) against Clerk; ${story}; ` +
          `provider: ${JSON.stringify(states)}`,
      );
    }
  }
}

/** How the provider holds `address`: `in` (subscribed or pending), `out` or `absent`. */
function providerState(world: Played["world"], address: string): string {
  if (world.provider === "mailchimp") {
    const member = world.mailchimp.members.get(md5Hash(address));
    if (!member) return "absent";
    return member.status === "subscribed" || member.status === "pending"
      ? "in"
      : `out (${member.status})`;
  }
  const contact = [...world.resend.contacts.values()].find((c) =>
    c.email.toLowerCase() === address.toLowerCase()
  );
  if (!contact) return "absent";
  return !contact.unsubscribed && contact.segments.has(NEWSLETTER_SEGMENT_ID) ? "in" : "out";
}

function stripe({ model, world, delivered }: Played, found: string[]) {
  for (const user of model.users.values()) {
    const live = world.stripe.liveCustomersOf(user.id);
    const who = `user ${user.index} (${user.id})`;
    if (user.deleted) {
      if (live.length) {
        found.push(`${who}: deleted in Clerk, ${live.length} live Stripe customer(s)`);
      }
      continue;
    }
    const signedUp = model.messages.some((m) =>
      m.objectId === user.id && m.type === "user.created" && delivered.has(m.n)
    );
    const want = signedUp ? 1 : 0;
    if (live.length !== want) {
      found.push(
        `${who}: ${live.length} live Stripe customer(s), want ${want}` +
          ` (${world.stripe.customersOf(user.id).length} ever created)`,
      );
      continue;
    }
    for (const customer of live) {
      const trials = [...world.stripe.subscriptions.values()].filter((s) =>
        s.customer === customer.id && s.status !== "canceled"
      );
      if (trials.length !== 1) {
        found.push(`${who}: customer ${customer.id} has ${trials.length} trial(s)`);
      }
    }
  }
}

async function personalData(sql: postgres.Sql, { model, world }: Played, found: string[]) {
  const tables = await sql<{ table_name: string }[]>`
    select table_name from information_schema.tables
     where table_schema = 'public' and table_type = 'BASE TABLE'`;
  for (const user of model.users.values()) {
    if (!user.deleted) continue;
    const needles = [
      ...[...user.addresses].flatMap((a) => [a.toLowerCase(), md5Hash(a)]),
      ...[...user.names].map((n) => n.toLowerCase()),
    ];
    for (const { table_name } of tables) {
      const rows = await sql.unsafe(
        `select n from unnest($1::text[]) as n
          where exists (select from public.${table_name} t where position(n in lower(t::text)) > 0)`,
        [needles],
      );
      for (const { n } of rows) {
        found.push(
          `user ${user.index} (${user.id}): deleted, public.${table_name} still holds "${n}"`,
        );
      }
    }
    for (const address of user.addresses) {
      const state = providerState(world, address);
      if (state !== "absent") {
        found.push(
          `user ${user.index} (${user.id}): deleted, ${world.provider} still holds an address (${state})`,
        );
      }
    }
  }
}

function emails({ model, world }: Played, found: string[]) {
  const tally = tallyByKey(world.resend.received);
  for (const user of model.users.values()) {
    for (const kind of ["welcome", "trial_offer"]) {
      const emails = tally.get(`clerk-events/${kind}/${user.id}`)?.emails ?? 0;
      if (emails > 1) found.push(`user ${user.index} (${user.id}): ${emails} ${kind} emails`);
    }
  }
}

/** The longest 401 window a run's retries must outlast (Inngest's back-off spans hours). */
export const SHORT_AUTH_MINUTES = 30;

/** The fewest retries of a function the events start (each step gets retries + 1 attempts). */
export const EVENT_RUN_RETRIES = 10;

/**
 * Whether every fault of `history` is one that retries must outlast: no
 * permanent 4xx, no 401 window longer than {@link SHORT_AUTH_MINUTES}, and,
 * per service, no more failed answers in a row than a step has attempts.
 * A 401 window costs one attempt per {@link AUTH_RETRY_MS} it lasts, plus
 * the first; each armed fault costs one per answer. Past that, a run
 * failing is the retry policy working (and the operator's replay must then
 * succeed), not a divergence.
 */
export function recoverable(history: Played["history"]): boolean {
  const attempts = new Map<string, number>();
  for (const m of history.moves) {
    if (m.m === "fault" && m.fault === "4xx") return false;
    if (m.m === "auth" && m.minutes > SHORT_AUTH_MINUTES) return false;
    if (m.m !== "fault" && m.m !== "auth") continue;
    const cost = m.m === "fault" ? m.times : Math.ceil(m.minutes * 60_000 / AUTH_RETRY_MS) + 1;
    attempts.set(m.service, (attempts.get(m.service) ?? 0) + cost);
  }
  return [...attempts.values()].every((n) => n <= EVENT_RUN_RETRIES);
}

function runs({ world, failedRuns, history }: Played, found: string[]) {
  if (recoverable(history)) {
    for (const run of failedRuns) {
      found.push(
        `${run.functionId} (${run.event.name}) failed although every fault was transient or short: ` +
          `${run.reason}`,
      );
    }
  }
  const replayedAgain = world.engine.runs.filter((r) =>
    r.status === "failed" && !failedRuns.includes(r)
  );
  for (const run of replayedAgain) {
    found.push(
      `${run.functionId} (${run.event.name}) failed again after the operator's replay: ${run.reason}`,
    );
  }
  const final = world.engine.runs.filter((r) => String(r.event.id).endsWith("-final"));
  if (!final.length || final.some((r) => r.status !== "completed")) {
    found.push(
      `the final reconcile did not complete: ${final.map((r) => r.reason ?? r.status).join("; ")}`,
    );
  }
}

const PLANS: readonly Plan[] = ["pro", "team"];

async function billing(sql: postgres.Sql, { model, delivered }: Played, found: string[]) {
  const isoOrNull = (ms: unknown) => typeof ms === "number" ? iso(ms) : null;
  for (const payer of model.billing.payers.values()) {
    const who = `payer ${payer.index} (${payer.id})`;
    const columns = payer.id.startsWith("org_")
      ? { payer_user_id: null, payer_organization_id: payer.id }
      : { payer_user_id: payer.id, payer_organization_id: null };
    const items = await sql<{
      id: string;
      payer_user_id: string | null;
      payer_organization_id: string | null;
      plan_slug: string | null;
      status: string;
      period_end: Date | null;
      canceled_at: Date | null;
      clerk_updated_at: Date;
    }[]>`select id, payer_user_id, payer_organization_id, plan_slug, status, period_end,
                canceled_at, clerk_updated_at
           from public.billing_subscription_items
          where coalesce(payer_user_id, payer_organization_id) = ${payer.id}
             or id = any(${payer.items.map((i) => i.id)})`;
    for (const item of payer.items) {
      const c = item.current;
      const want = {
        ...columns,
        plan_slug: (c.plan as { slug: string }).slug,
        status: c.status,
        period_end: isoOrNull(c.period_end),
        canceled_at: isoOrNull(c.canceled_at),
        clerk_updated_at: iso(c.updated_at as number),
      };
      const row = items.find((r) => r.id === item.id);
      const have = row && {
        payer_user_id: row.payer_user_id,
        payer_organization_id: row.payer_organization_id,
        plan_slug: row.plan_slug,
        status: row.status,
        period_end: time(row.period_end),
        canceled_at: time(row.canceled_at),
        clerk_updated_at: time(row.clerk_updated_at),
      };
      if (JSON.stringify(have) !== JSON.stringify(want)) {
        found.push(
          `${who}: item ${item.id}: billing_subscription_items has ${JSON.stringify(have)}, ` +
            `Clerk ${JSON.stringify(want)}`,
        );
      }
    }
    for (const row of items) {
      if (!payer.items.some((i) => i.id === row.id)) {
        found.push(`${who}: item ${row.id} in billing_subscription_items, unknown to Clerk`);
      }
    }
    const subscriptions = await sql<{
      id: string;
      payer_user_id: string | null;
      payer_organization_id: string | null;
      status: string;
    }[]>`select id, payer_user_id, payer_organization_id, status
           from public.billing_subscriptions
          where coalesce(payer_user_id, payer_organization_id) = ${payer.id}`;
    const want = payer.subscription
      ? [{ id: payer.subscription.id, ...columns, status: payer.subscription.current.status }]
      : [];
    if (JSON.stringify(subscriptions.map((r) => ({ ...r }))) !== JSON.stringify(want)) {
      found.push(
        `${who}: billing_subscriptions has ${JSON.stringify(subscriptions)}, ` +
          `Clerk ${JSON.stringify(want)}`,
      );
    }
    for (const plan of PLANS) {
      const [{ answer }] = await sql<{ answer: boolean }[]>`
        select public.payer_has_plan(${payer.id}, ${plan}) as answer`;
      const truth = payer.items.some((i) =>
        (i.current.plan as { slug: string }).slug === plan && grantsPlan(i.current, Date.now())
      );
      if (answer !== truth) {
        found.push(`${who}: payer_has_plan(${plan}) is ${answer}, Clerk says ${truth}`);
      }
    }
    for (const attempt of payer.attempts) {
      const shown = attempt.versions.filter((v) => delivered.has(v.n));
      const newest = shown.reduce<typeof shown[number] | undefined>(
        (a, v) => !a || v.at > a.at ? v : a,
        undefined,
      );
      const [row] = await sql<{ status: string; payer: string | null }[]>`
        select status, coalesce(payer_user_id, payer_organization_id) as payer
          from public.billing_payment_attempts where id = ${attempt.id}`;
      const latest = attempt.versions[attempt.versions.length - 1].status;
      const have = row ? `${row.status} for ${row.payer}` : "no row";
      const wantAttempt = newest ? `${newest.status} for ${payer.id}` : "no row";
      if (have !== wantAttempt) {
        found.push(
          `${who}: payment attempt ${attempt.id}: billing_payment_attempts has ${have}, ` +
            `want ${wantAttempt} (Clerk's latest: ${latest}; delivered: ` +
            `${shown.map((v) => v.status).join(", ") || "none"})`,
        );
      }
    }
  }
}
