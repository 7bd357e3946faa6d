/**
 * A history: what Clerk does, and everything that can happen around it, as
 * a list of moves that the simulation (`simulate.ts`) plays one at a time.
 * fast-check generates histories and shrinks a failing one to the few moves
 * that matter; a move that does not apply when it comes (an update of a
 * user not created yet, a delivery with nothing pending) does nothing, so
 * any sublist of a history is a history.
 *
 * Moves pick among what exists at that moment by a number taken modulo the
 * choices (the pending messages, the runs ready to step), so that shrinking
 * a number towards 0 means "the first, in order".
 */
import fc from "fast-check";
import type { ClerkAction } from "./clerk_model.ts";
import { type Fault, FAULTS, type Service } from "./faults.ts";
import type { NewsletterProvider } from "./world.ts";

/** The families of histories, each with its invariants. */
export type Entity = "users" | "organizations" | "billing";

/** Every entity, in the order `deno task test:convergence` (and its benchmark) runs them. */
export const ENTITIES: readonly Entity[] = ["users", "organizations", "billing"];

/** The services a history may arm faults on. */
export type FaultService = Exclude<Service, "inngest">;

/** One move of a history. */
export type Move =
  /** Clerk changes something, `gapS` seconds after its previous change. */
  | { readonly m: "clerk"; readonly action: ClerkAction; readonly gapS: number }
  /** Svix delivers a pending message (once; it may deliver it again later). */
  | { readonly m: "deliver"; readonly pick: number }
  /** Svix delivers a message it delivered before again, `afterH` hours later. */
  | { readonly m: "redeliver"; readonly pick: number; readonly afterH: number }
  /** Svix gives up on a pending message: it is never delivered. */
  | { readonly m: "lose"; readonly pick: number }
  /**
   * Inngest makes one request for a run ready now (or, when none is, for the
   * next one due); with `hold`, the request stops after the first answer
   * from that service until a `release`.
   */
  | { readonly m: "step"; readonly pick: number; readonly hold?: FaultService }
  /** Releases a held request: it runs to its end. */
  | { readonly m: "release"; readonly pick: number }
  /** Simulated time passes (back-offs and sleeps come due). */
  | { readonly m: "wait"; readonly minutes: number }
  /** The user's app calls /users/me/sync, with an active organization or none. */
  | {
    readonly m: "meSync";
    readonly user: number;
    readonly org?: number;
    readonly hold?: FaultService;
  }
  /** The reconcile is requested (its steps run with the others). */
  | { readonly m: "reconcile" }
  /** The user clicks one-click unsubscribe in a marketing email. */
  | { readonly m: "oneClick"; readonly user: number }
  /** The user unsubscribes at the newsletter provider, which tells us by webhook. */
  | { readonly m: "providerOptOut"; readonly user: number }
  /** The next `times` requests to `service` fail with `fault`. */
  | {
    readonly m: "fault";
    readonly service: FaultService;
    readonly fault: Fault;
    readonly times: number;
    readonly retryAfterS: number;
  }
  /** Every request to `service` gets 401 for `minutes` (a key being rotated). */
  | { readonly m: "auth"; readonly service: FaultService; readonly minutes: number }
  /** Clerk's lists start lagging behind its data (reads by id do not), or stop. */
  | { readonly m: "lists"; readonly lag: boolean };

/** A history to play. */
export interface History {
  readonly entity: Entity;
  readonly provider: NewsletterProvider;
  /** How far Clerk's clock is behind processing when the history starts. */
  readonly lagMinutes: number;
  readonly moves: readonly Move[];
}

const USERS = 2;
const ORGS = 2;

const user = fc.nat({ max: USERS - 1 });
const org = fc.nat({ max: ORGS - 1 });
const pick = fc.nat({ max: 7 });
const gapS = fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 3_600 }));

const userActions: fc.Arbitrary<ClerkAction> = fc.oneof(
  {
    arbitrary: fc.record({
      do: fc.constant("createUser" as const),
      user,
      consent: fc.constantFrom("yes" as const, "no" as const, "absent" as const),
    }),
    weight: 3,
  },
  {
    arbitrary: fc.record({
      do: fc.constant("updateUser" as const),
      user,
      change: fc.constantFrom(
        "name" as const,
        "address" as const,
        "consentOn" as const,
        "consentOff" as const,
      ),
    }),
    weight: 5,
  },
  { arbitrary: fc.record({ do: fc.constant("deleteUser" as const), user }), weight: 1 },
);

const orgActions: fc.Arbitrary<ClerkAction> = fc.oneof(
  {
    arbitrary: fc.record({
      do: fc.constant("createUser" as const),
      user,
      consent: fc.constant("absent" as const),
    }),
    weight: 2,
  },
  { arbitrary: fc.record({ do: fc.constant("deleteUser" as const), user }), weight: 1 },
  { arbitrary: fc.record({ do: fc.constant("createOrg" as const), org }), weight: 2 },
  { arbitrary: fc.record({ do: fc.constant("updateOrg" as const), org }), weight: 2 },
  { arbitrary: fc.record({ do: fc.constant("deleteOrg" as const), org }), weight: 1 },
  {
    arbitrary: fc.record({ do: fc.constant("join" as const), org, user, admin: fc.boolean() }),
    weight: 4,
  },
  {
    arbitrary: fc.record({ do: fc.constant("setRole" as const), org, user, admin: fc.boolean() }),
    weight: 2,
  },
  { arbitrary: fc.record({ do: fc.constant("leave" as const), org, user }), weight: 3 },
);

/** Payer 0 is a user, payer 1 an organization (`billing_model.ts`). */
const payer = fc.nat({ max: 1 });
const plan = fc.constantFrom("pro" as const, "team" as const);

const billingActions: fc.Arbitrary<ClerkAction> = fc.oneof(
  { arbitrary: fc.record({ do: fc.constant("subscribe" as const), payer, plan }), weight: 3 },
  {
    arbitrary: fc.record({
      do: fc.constant("switchPlan" as const),
      payer,
      plan,
      now: fc.boolean(),
    }),
    weight: 2,
  },
  { arbitrary: fc.record({ do: fc.constant("cancel" as const), payer }), weight: 1 },
  { arbitrary: fc.record({ do: fc.constant("periodEnds" as const), payer }), weight: 2 },
  {
    arbitrary: fc.record({ do: fc.constant("charge" as const), payer, paid: fc.boolean() }),
    weight: 3,
  },
);

const userServices: FaultService[] = ["mailchimp", "resend", "stripe", "database", "clerk"];
const orgServices: FaultService[] = ["database", "clerk"];

/**
 * Faults of the providers (Mailchimp, Resend, Stripe, Clerk): any kind, and
 * 401 windows (a key rotated). The database (PostgREST) fails the way a
 * database does, for a few requests: 5xx, a lost answer, a timeout.
 */
function faultMoves(services: FaultService[]): fc.Arbitrary<Move> {
  const providers = services.filter((s) => s !== "database");
  const provider = fc.record({
    m: fc.constant("fault" as const),
    service: fc.constantFrom(...providers),
    fault: fc.constantFrom<Fault>(...FAULTS),
    times: fc.integer({ min: 1, max: 3 }),
    retryAfterS: fc.constantFrom(1, 30, 600, 7_200),
  });
  const database = fc.record({
    m: fc.constant("fault" as const),
    service: fc.constant("database" as const),
    fault: fc.constantFrom<Fault>("5xx", "lost", "timeout"),
    times: fc.integer({ min: 1, max: 3 }),
    retryAfterS: fc.constant(1),
  });
  return fc.oneof(
    { arbitrary: provider, weight: 3 },
    { arbitrary: database, weight: 2 },
    {
      arbitrary: fc.record({
        m: fc.constant("auth" as const),
        service: fc.constantFrom(...providers),
        minutes: fc.constantFrom(5, 30, 24 * 60),
      }),
      weight: 1,
    },
  );
}

function moves(entity: Entity): fc.Arbitrary<Move> {
  const clerk = fc.record({
    m: fc.constant("clerk" as const),
    action: { users: userActions, organizations: orgActions, billing: billingActions }[entity],
    gapS,
  });
  const services = entity === "users" ? userServices : orgServices;
  const hold = fc.option(
    fc.constantFrom<FaultService>(...services),
    {
      nil: undefined,
      freq: 4,
    },
  );
  const common: fc.WeightedArbitrary<Move>[] = [
    { arbitrary: clerk, weight: 8 },
    { arbitrary: fc.record({ m: fc.constant("deliver" as const), pick }), weight: 8 },
    {
      arbitrary: fc.record({
        m: fc.constant("redeliver" as const),
        pick,
        afterH: fc.constantFrom(0, 1, 25),
      }),
      weight: 1,
    },
    { arbitrary: fc.record({ m: fc.constant("lose" as const), pick }), weight: 1 },
    {
      arbitrary: fc.record({ m: fc.constant("step" as const), pick, hold }, {
        requiredKeys: ["m", "pick"],
      }),
      weight: 14,
    },
    { arbitrary: fc.record({ m: fc.constant("release" as const), pick }), weight: 2 },
    {
      arbitrary: fc.record({
        m: fc.constant("wait" as const),
        minutes: fc.constantFrom(1, 10, 120, 3 * 24 * 60),
      }),
      weight: 1,
    },
    // /users/me/sync does not touch billing: its histories leave it out
    // (the others keep their order, so that their seeds replay as before).
    ...(entity === "billing" ? [] : [{
      arbitrary: fc.record({
        m: fc.constant("meSync" as const),
        user,
        org: fc.option(org, { nil: undefined }),
        hold,
      }, { requiredKeys: ["m", "user"] }),
      weight: 2,
    }]),
    { arbitrary: fc.constant({ m: "reconcile" as const }), weight: 1 },
    { arbitrary: faultMoves(services), weight: 2 },
    { arbitrary: fc.record({ m: fc.constant("lists" as const), lag: fc.boolean() }), weight: 1 },
  ];
  if (entity === "users") {
    common.push(
      { arbitrary: fc.record({ m: fc.constant("oneClick" as const), user }), weight: 1 },
      { arbitrary: fc.record({ m: fc.constant("providerOptOut" as const), user }), weight: 1 },
    );
  }
  return fc.oneof(...common);
}

/**
 * How long a history of each entity may be, by default. A billing action
 * sends two to five messages (each a webhook delivery and an Inngest run),
 * so its histories are shorter, to keep CI's 300 within the time budget.
 */
export const MAX_MOVES: Readonly<Record<Entity, number>> = {
  users: 40,
  organizations: 40,
  billing: 20,
};

/** Histories of one entity, up to `maxMoves` long, without the kinds of move in `without`. */
export function histories(
  entity: Entity,
  maxMoves = MAX_MOVES[entity],
  without: readonly Move["m"][] = [],
): fc.Arbitrary<History> {
  const move = without.length ? moves(entity).filter((m) => !without.includes(m.m)) : moves(entity);
  return fc.record({
    entity: fc.constant(entity),
    provider: fc.constantFrom<NewsletterProvider>("mailchimp", "resend"),
    lagMinutes: fc.constantFrom(0, 5, 60, 6 * 60),
    moves: fc.array(move, { minLength: 10, maxLength: maxMoves }),
  });
}

/** The kinds of move, for `--without`. */
export const MOVE_KINDS: readonly Move["m"][] = [
  "clerk",
  "deliver",
  "redeliver",
  "lose",
  "step",
  "release",
  "wait",
  "meSync",
  "reconcile",
  "oneClick",
  "providerOptOut",
  "fault",
  "auth",
  "lists",
];

/** A history as one line per move, for a report. */
export function describeHistory(history: History): string {
  const lines = [
    `entity ${history.entity}, newsletter on ${history.provider}, ` +
    `Clerk's clock ${history.lagMinutes} min behind processing`,
  ];
  history.moves.forEach((move, i) =>
    lines.push(`  ${String(i).padStart(2)}. ${describeMove(move)}`)
  );
  return lines.join("\n");
}

/** One move in words. */
export function describeMove(move: Move): string {
  switch (move.m) {
    case "clerk": {
      const { do: what, ...rest } = move.action;
      const args = Object.entries(rest).map(([k, v]) => `${k}=${v}`).join(" ");
      return `clerk ${what} ${args} (+${move.gapS}s)`;
    }
    case "deliver":
      return `deliver pending #${move.pick}`;
    case "redeliver":
      return `redeliver delivered #${move.pick} after ${move.afterH}h`;
    case "lose":
      return `lose pending #${move.pick}`;
    case "step":
      return `step ready run #${move.pick}${move.hold ? `, hold after ${move.hold} answers` : ""}`;
    case "release":
      return `release held #${move.pick}`;
    case "wait":
      return `wait ${move.minutes} min`;
    case "meSync":
      return `users/me/sync user ${move.user}${move.org === undefined ? "" : ` org ${move.org}`}${
        move.hold ? `, hold after ${move.hold} answers` : ""
      }`;
    case "reconcile":
      return "reconcile requested";
    case "oneClick":
      return `one-click unsubscribe user ${move.user}`;
    case "providerOptOut":
      return `user ${move.user} unsubscribes at the provider`;
    case "fault":
      return `fault: next ${move.times} ${move.service} request(s) get ${move.fault}` +
        (move.fault === "429" ? ` (retry-after ${move.retryAfterS}s)` : "");
    case "auth":
      return `fault: ${move.service} answers 401 for ${move.minutes} min`;
    case "lists":
      return move.lag ? "Clerk's lists start lagging" : "Clerk's lists catch up";
  }
}
