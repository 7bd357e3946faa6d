/**
 * Plays a {@link History} against a {@link World}, one move at a time, then
 * brings the world to rest the way production would: Svix delivers what it
 * still holds, Inngest runs everything (retries, back-offs and sleeps on the
 * simulated clock), the faults end, an operator replays the Stripe trial's
 * runs that failed visibly, one last reconcile runs, and the crons come
 * round once. The invariants are checked
 * after that (`invariants.ts`).
 *
 * Determinism: a move runs to its end before the next starts, except a
 * request held on purpose (`hold`), which waits at a gate after the first
 * answer from the service named, while other moves run; `release` lets it
 * finish. Which run steps next, which message is delivered, which request
 * fails: all come from the history, none from timing. The same history
 * gives the same requests in the same order.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { reconcileRequested } from "../../functions/reconcile/events.ts";
import { signHeaders } from "../support/clerk.ts";
import type { EngineRun } from "../support/inngest_engine.ts";
import { md5Hash } from "../support/mailchimp_api.ts";
import { oneClickPost, unsubscribeUrlFor } from "../support/email_preferences.ts";
import { signedResendRequest } from "../support/resend_webhook.ts";
import { mintSessionToken } from "../support/session_tokens.ts";
import { ClerkModel, type Message, primaryAddress } from "./clerk_model.ts";
import type { Service } from "./faults.ts";
import { describeMove, type History, type Move } from "./history.ts";
import { MAILCHIMP_WEBHOOK_SECRET, NEWSLETTER_SEGMENT_ID, type World } from "./world.ts";

/** An opt-out taken on our side or the provider's, at processing time. */
export interface OptOut {
  readonly user: number;
  /** Real time, after the request that recorded it answered. */
  readonly at: number;
  readonly source: "one_click" | "provider";
  /**
   * For a one-click answered with an error: when the request was sent. The
   * click may still have been recorded (the database did the work and its
   * answer was lost), so the invariants count it only if the table shows an
   * opt-out taken at or after this time.
   */
  readonly unansweredSince?: number;
}

/** What a played history left behind, for the invariants. */
export interface Played {
  readonly history: History;
  readonly model: ClerkModel;
  readonly world: World;
  /** What happened, one line per move (and per phase of the ending). */
  readonly trace: string[];
  /** Messages delivered with a 2xx at least once, by `n`. */
  readonly delivered: ReadonlySet<number>;
  readonly optOuts: readonly OptOut[];
  /** Runs that failed before the operator's replay. */
  readonly failedRuns: readonly EngineRun[];
}

/** A request started by a move: a run's step, or a route call. */
interface Actor {
  readonly name: string;
  readonly hold?: Service;
  /** Requests of this actor in flight, and how many wait at its gate. */
  inFlight: number;
  atGate: number;
  held: boolean;
  released: boolean;
  releaseGate: () => void;
  readonly gate: Promise<void>;
  done?: Promise<string>;
  finished: boolean;
}

const actors = new AsyncLocalStorage<Actor>();

/** Longest real wait for a held request to settle at its gate. */
const SETTLE_MS = 5_000;
/** Most requests the ending makes before it counts the world as stuck. */
const MAX_ENDING_REQUESTS = 3_000;

/** Plays `history` in `world` and brings it to rest. */
export async function play(
  history: History,
  world: World,
  tag: string,
  trace: string[] = [],
): Promise<Played> {
  const gaps = history.moves.reduce((sum, m) => sum + (m.m === "clerk" ? m.gapS * 1000 : 0), 0);
  const model = new ClerkModel(
    world.clerk,
    tag,
    Date.now() - history.lagMinutes * 60_000 - gaps,
    world.billing,
  );
  const pending: Message[] = [];
  const deliveredOnce: Message[] = [];
  const delivered = new Set<number>();
  const optOuts: OptOut[] = [];
  const held: Actor[] = [];
  let reconciles = 0;

  world.onAnswer = async (service) => {
    const actor = actors.getStore();
    if (!actor || actor.hold !== service || actor.released) return;
    actor.held = true;
    actor.atGate += 1;
    await actor.gate;
    actor.atGate -= 1;
  };
  world.onRequest = (delta) => {
    const actor = actors.getStore();
    if (actor) actor.inFlight += delta;
  };

  const start = (name: string, hold: Service | undefined, work: () => Promise<string>) => {
    let releaseGate!: () => void;
    const gate = new Promise<void>((resolve) => releaseGate = resolve);
    const actor: Actor = {
      name,
      hold,
      inFlight: 0,
      atGate: 0,
      held: false,
      released: !hold,
      releaseGate,
      gate,
      finished: false,
    };
    actor.done = actors.run(actor, work).finally(() => actor.finished = true);
    return actor;
  };

  /** Waits until `actor` finished, or is held with every request of it at the gate. */
  const settle = async (actor: Actor): Promise<string> => {
    const deadline = performance.now() + SETTLE_MS;
    while (!actor.finished) {
      if (actor.held && actor.atGate > 0 && actor.atGate === actor.inFlight) {
        // A sibling request may be on its way to the gate: one more turn.
        await macrotask();
        if (actor.atGate === actor.inFlight && !actor.finished) {
          held.push(actor);
          return `${actor.name}: held`;
        }
      }
      if (performance.now() > deadline) {
        throw new Error(`Timed out after ${SETTLE_MS} ms waiting for ${actor.name} to settle`);
      }
      await Promise.race([actor.done, macrotask()]);
    }
    return await actor.done!;
  };

  /** Lets a held actor go on; it holds no more. Resolves with how it ended. */
  const release = (actor: Actor): Promise<string> => {
    actor.released = true;
    actor.held = false;
    actor.releaseGate();
    return settle(actor);
  };

  const deliver = async (message: Message): Promise<number> => {
    const status = await deliverMessage(world, message);
    if (status >= 200 && status < 300) delivered.add(message.n);
    return status;
  };

  const describeMessage = (m: Message) =>
    `#${m.n} ${m.type} ${m.objectId}${m.consent === undefined ? "" : ` consent=${m.consent}`}`;

  const stepRun = (run: EngineRun, hold?: Service) =>
    start(
      `${run.functionId} for ${run.event.name} ${String(run.event.id).slice(-6)}`,
      hold,
      async () => {
        const before = run.ops.length;
        await world.engine.step(run);
        const ops = run.ops.slice(before).map((op) => op.displayName ?? op.name ?? op.op).join(
          ", ",
        );
        return `${run.functionId} (${run.event.name}): ${ops || run.status}${
          run.reason ? ` [${run.reason.slice(0, 120)}]` : ""
        }`;
      },
    );

  const moveOnce = async (move: Move): Promise<string> => {
    switch (move.m) {
      case "clerk": {
        const messages = model.apply(move.action, move.gapS * 1000);
        pending.push(...messages);
        return messages.length ? messages.map(describeMessage).join("; ") : "does not apply";
      }
      case "deliver": {
        if (!pending.length) return "nothing pending";
        const [message] = pending.splice(move.pick % pending.length, 1);
        const status = await deliver(message);
        if (status >= 200 && status < 300) deliveredOnce.push(message);
        else pending.push(message);
        return `${describeMessage(message)} -> ${status}`;
      }
      case "redeliver": {
        if (!deliveredOnce.length) return "nothing delivered yet";
        const message = deliveredOnce[move.pick % deliveredOnce.length];
        world.clock.advance(move.afterH * 3_600_000);
        return `${describeMessage(message)} again -> ${await deliver(message)}`;
      }
      case "lose": {
        if (!pending.length) return "nothing pending";
        const [message] = pending.splice(move.pick % pending.length, 1);
        return `${describeMessage(message)} is never delivered`;
      }
      case "step": {
        let ready = world.engine.ready();
        if (!ready.length) {
          const due = world.engine.nextDue();
          if (due === undefined || due <= world.clock.now()) return "no run ready";
          world.clock.advanceTo(due);
          ready = world.engine.ready();
          if (!ready.length) return "no run ready";
        }
        return await settle(stepRun(ready[move.pick % ready.length], move.hold));
      }
      case "release": {
        const waiting = held.filter((a) => !a.released);
        if (!waiting.length) return "nothing held";
        const actor = waiting[move.pick % waiting.length];
        return `released: ${await release(actor)}`;
      }
      case "wait":
        world.clock.advance(move.minutes * 60_000);
        return "";
      case "meSync": {
        const user = model.users.get(move.user);
        if (!user) return "no such user yet";
        const org = move.org === undefined ? undefined : model.orgs.get(move.org);
        const token = await mintSessionToken(world.instance, {
          sub: user.id,
          claims: org ? { o: { id: org.id, rol: "member" } } : {},
        });
        const actor = start(`users/me/sync ${user.id}`, move.hold, async () => {
          const res = await world.app.handler(
            new Request("http://localhost/clerk-events/users/me/sync", {
              method: "POST",
              headers: { authorization: `Bearer ${token}` },
            }),
          );
          const text = await res.text();
          return `users/me/sync ${user.id} -> ${res.status} ${res.ok ? "" : text.slice(0, 80)}`;
        });
        return await settle(actor);
      }
      case "reconcile": {
        reconciles += 1;
        world.engine.send({
          id: `reconcile-${tag}-${reconciles}`,
          name: reconcileRequested.name,
          data: {},
          ts: world.clock.now(),
        });
        return "";
      }
      case "oneClick": {
        const user = model.users.get(move.user);
        if (!user) return "no such user yet";
        await after(model.now);
        const sent = Date.now();
        const res = await world.app.handler(oneClickPost(await unsubscribeUrlFor(user.id)));
        await res.body?.cancel();
        const at = Date.now();
        model.catchUp(at + 1);
        optOuts.push({
          user: move.user,
          at,
          source: "one_click",
          ...(res.ok ? {} : { unansweredSince: sent }),
        });
        return `${user.id} -> ${res.status}`;
      }
      case "providerOptOut": {
        const user = model.liveUser(move.user);
        if (!user) return "no such user";
        await after(model.now);
        const status = await providerOptOut(world, [...user.addresses]);
        const at = Date.now();
        model.catchUp(at + 1);
        if (status === undefined) return "not subscribed at the provider";
        optOuts.push({ user: move.user, at, source: "provider" });
        return `${user.id} -> ${status}`;
      }
      case "fault":
        world.faults.arm(move.service, move.fault, move.times, move.retryAfterS);
        return "";
      case "auth":
        world.faults.authUntil(move.service, world.clock.now() + move.minutes * 60_000);
        return "";
      case "lists":
        if (move.lag) world.clerk.freezeLists();
        else world.clerk.thawLists();
        model.billing.lagLists(move.lag);
        return "";
    }
  };

  for (const [i, move] of history.moves.entries()) {
    const result = await moveOnce(move);
    trace.push(`${String(i).padStart(2)}. ${describeMove(move)}${result ? `: ${result}` : ""}`);
  }

  // The ending: what production does after the history, until rest.
  for (const actor of held.filter((a) => !a.released)) {
    trace.push(`end: released ${await release(actor)}`);
  }
  for (let attempt = 0; pending.length && attempt < 20; attempt++) {
    for (const message of pending.splice(0)) {
      const status = await deliver(message);
      if (status < 200 || status >= 300) pending.push(message);
      trace.push(`end: deliver ${describeMessage(message)} -> ${status}`);
    }
  }
  if (pending.length) throw new Error(`Cannot deliver ${pending.length} message(s) at the end`);
  await drain(world, trace, "end: runs");
  world.faults.clear();
  world.clerk.thawLists();
  model.billing.lagLists(false);
  const failedRuns = world.engine.runs.filter((r) => r.status === "failed");
  // The operator replays the Stripe trial's failed runs (the one promise
  // that allows it); every other failure must be repaired without them.
  for (const run of failedRuns.filter((r) => r.functionId.includes("stripe"))) {
    trace.push(`end: operator replays failed ${run.functionId} (${run.event.name}): ${run.reason}`);
    world.engine.replay(run);
  }
  await drain(world, trace, "end: replays");
  world.engine.send({
    id: `reconcile-${tag}-final`,
    name: reconcileRequested.name,
    data: {},
    ts: world.clock.now(),
  });
  await drain(world, trace, "end: final reconcile");
  // The hourly crons come round (the newsletter's sweep retries what failed,
  // and removes what the reconcile's tombstones queued).
  for (const [id, config] of world.engine.functions) {
    if ((config.raw.triggers as { cron?: string }[] | undefined)?.some((t) => t.cron)) {
      world.engine.cron(id);
    }
  }
  await drain(world, trace, "end: crons");
  world.onAnswer = undefined;
  world.onRequest = undefined;
  return { history, model, world, trace, delivered, optOuts, failedRuns };
}

/** Svix delivers `message` to the webhook route, signed now; returns the status. */
export async function deliverMessage(world: World, message: Message): Promise<number> {
  const res = await world.app.handler(
    new Request("http://localhost/clerk-events/webhook", {
      method: "POST",
      headers: {
        "content-type": "application/json",
        ...signHeaders(message.body, { id: message.svixId }),
      },
      body: message.body,
    }),
  );
  await res.body?.cancel();
  return res.status;
}

/** Runs every active run to its end, one request at a time, in start order. */
export async function drain(world: World, trace: string[], label: string): Promise<void> {
  let requests = 0;
  while (world.engine.active()) {
    const [run] = world.engine.ready();
    if (!run) {
      const due = world.engine.nextDue();
      if (due === undefined || due <= world.clock.now()) {
        const stuck = world.engine.runs.filter((r) =>
          !["completed", "failed", "cancelled"].includes(r.status)
        )
          .map((r) => `${r.functionId} ${r.status}`);
        throw new Error(
          `${label}: runs are active but none can make a request: ${stuck.join(", ")}`,
        );
      }
      world.clock.advanceTo(due);
      continue;
    }
    if (++requests > MAX_ENDING_REQUESTS) {
      throw new Error(`${label}: still running after ${MAX_ENDING_REQUESTS} requests`);
    }
    await world.engine.step(run);
  }
  trace.push(`${label}: ${requests} request(s)`);
}

/** The user leaves the newsletter at the provider, which sends its webhook; undefined if not subscribed. */
async function providerOptOut(world: World, addresses: string[]): Promise<number | undefined> {
  if (world.provider === "mailchimp") {
    const address = addresses.find((a) => {
      const status = world.mailchimp.members.get(md5Hash(a))?.status;
      return status === "subscribed" || status === "pending";
    });
    if (!address) return undefined;
    world.mailchimp.members.get(md5Hash(address))!.status = "unsubscribed";
    const form = new URLSearchParams({
      type: "unsubscribe",
      fired_at: "2026-12-02 10:00:00",
      "data[action]": "unsub",
      "data[reason]": "manual",
      "data[id]": "8a25ff1d98",
      "data[list_id]": world.mailchimp.audienceId,
      "data[email]": address,
      "data[email_type]": "html",
    });
    const res = await world.app.handler(
      new Request(
        `http://localhost/clerk-events/mailchimp-webhook?secret=${MAILCHIMP_WEBHOOK_SECRET}`,
        {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded" },
          body: form.toString(),
        },
      ),
    );
    await res.body?.cancel();
    return res.status;
  }
  const contact = [...world.resend.contacts.values()].find((c) =>
    addresses.includes(c.email.toLowerCase()) && !c.unsubscribed &&
    c.segments.has(NEWSLETTER_SEGMENT_ID)
  );
  if (!contact) return undefined;
  contact.unsubscribed = true;
  const res = await world.app.handler(signedResendRequest({
    type: "contact.updated",
    created_at: new Date().toISOString(),
    data: {
      id: contact.id,
      email: contact.email,
      first_name: contact.first_name,
      last_name: contact.last_name,
      unsubscribed: true,
    },
  }));
  await res.body?.cancel();
  return res.status;
}

/**
 * Waits until the processing clock has passed `at` (Clerk's clock, which
 * may run a few ms ahead after an action of ours): an action on our side
 * that comes after a change of Clerk's in the history happens after it.
 */
async function after(at: number): Promise<void> {
  while (Date.now() <= at) await new Promise((resolve) => setTimeout(resolve, 1));
}

function macrotask(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** The primary address of user `index` now, or null. */
export function currentAddress(model: ClerkModel, index: number): string | null {
  const user = model.users.get(index);
  return user ? primaryAddress(user.current) : null;
}
