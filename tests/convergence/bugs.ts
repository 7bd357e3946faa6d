/**
 * Every bug the simulation found, as the shrunk history that shows it (the
 * moves of `history.ts`), with the divergence it caused. The regression
 * suite (`regressions_test.ts`) plays each: a fixed bug's history must
 * converge; an open one's must still diverge the way it did (so that the
 * entry stays a faithful reproduction until its fix lands).
 */
import type { History } from "./history.ts";

/** One bug. */
export interface Bug {
  /** The letter (a–g), or the next letter for one the simulation found. */
  readonly id: string;
  readonly title: string;
  /** The seed (and fast-check path) that found it, or "by hand" from the reproduction. */
  readonly foundBy: string;
  readonly history: History;
  /** What the divergence said before the fix. */
  readonly divergence: RegExp;
  /** Whether the fix has landed: then the history must converge. */
  readonly fixed: boolean;
}

const create = (user: number, consent: "yes" | "no" | "absent") =>
  ({ m: "clerk", action: { do: "createUser", user, consent }, gapS: 1 }) as const;
const update = (user: number, change: "name" | "address" | "consentOn" | "consentOff") =>
  ({ m: "clerk", action: { do: "updateUser", user, change }, gapS: 1 }) as const;
const deliver = (pick = 0) => ({ m: "deliver", pick }) as const;
const step = (pick = 0) => ({ m: "step", pick }) as const;
const steps = (n: number, pick = 0) => Array.from({ length: n }, () => step(pick));

/** A user subscribed to the newsletter is deleted, and Svix never delivers the user.deleted. */
const LOST_DELETION: History = {
  entity: "users",
  provider: "mailchimp",
  lagMinutes: 0,
  moves: [
    create(0, "yes"),
    deliver(0),
    ...steps(16),
    { m: "clerk", action: { do: "deleteUser", user: 0 }, gapS: 1 },
    { m: "lose", pick: 0 },
  ],
};

/** The bugs, in the order they were found. */
export const BUGS: readonly Bug[] = [
  {
    id: "a",
    title: 'An older consent, applied after a newer "no consent", subscribes the user',
    foundBy: "by hand, from the issue",
    history: {
      entity: "users",
      provider: "mailchimp",
      lagMinutes: 0,
      moves: [create(0, "yes"), update(0, "consentOff"), deliver(1), ...steps(12)],
    },
    divergence: /subscribed at mailchimp 1 time\(s\) against Clerk/,
    fixed: true,
  },
  {
    id: "b",
    title: "A newsletter run's stale plan acts at the provider after a newer withdrawal completed",
    foundBy: "by hand, from the issue",
    history: {
      entity: "users",
      provider: "mailchimp",
      lagMinutes: 0,
      moves: [
        create(0, "absent"),
        update(0, "consentOn"),
        update(0, "consentOff"),
        // The consent's newsletter run plans "subscribe" ...
        deliver(1),
        step(1),
        // ... the withdrawal's run plans, records and completes ...
        deliver(1),
        ...steps(3, 4),
        // ... and the first run goes on with its plan at the end.
      ],
    },
    divergence: /subscribed at mailchimp 1 time\(s\) against Clerk/,
    fixed: true,
  },
  {
    id: "b2",
    title:
      "b as the run is now (record, then sync): the consent's run steps twice before the withdrawal",
    foundBy: "by hand: b's history with the runs' current steps, and user.created lost",
    history: {
      entity: "users",
      provider: "mailchimp",
      lagMinutes: 0,
      moves: [
        create(0, "absent"),
        update(0, "consentOn"),
        update(0, "consentOff"),
        deliver(1),
        step(1),
        step(1),
        deliver(1),
        ...steps(3, 4),
        // No later run of this user's (user.created is never delivered)
        // brings the provider back in line by chance.
        { m: "lose", pick: 0 },
      ],
    },
    divergence: /subscribed at mailchimp 1 time\(s\) against Clerk/,
    fixed: true,
  },
  {
    id: "c",
    title: "A re-consent whose webhook is processed late is ignored",
    foundBy: "by hand, from the issue",
    history: {
      entity: "users",
      provider: "mailchimp",
      lagMinutes: 60,
      moves: [create(0, "yes"), update(0, "consentOff"), update(0, "consentOn")],
    },
    divergence: /not subscribed at mailchimp under the current address/,
    fixed: true,
  },
  {
    id: "d",
    title: "A deleted user's newsletter address stays when the provider refuses the removal",
    foundBy: "by hand, from the issue",
    history: {
      entity: "users",
      provider: "mailchimp",
      lagMinutes: 0,
      moves: [
        create(0, "yes"),
        deliver(0),
        ...steps(16),
        { m: "clerk", action: { do: "deleteUser", user: 0 }, gapS: 1 },
        { m: "fault", service: "mailchimp", fault: "4xx", times: 1, retryAfterS: 1 },
      ],
    },
    divergence: /deleted, public\.email_preferences still holds/,
    fixed: true,
  },
  {
    id: "e",
    title: "/users/me/sync tombstones a membership that Clerk's lagging list does not show",
    foundBy: "by hand, from the issue",
    history: {
      entity: "organizations",
      provider: "mailchimp",
      lagMinutes: 0,
      moves: [
        { m: "clerk", action: { do: "createUser", user: 0, consent: "absent" }, gapS: 1 },
        { m: "clerk", action: { do: "createOrg", org: 0 }, gapS: 1 },
        { m: "lists", lag: true },
        { m: "clerk", action: { do: "join", org: 0, user: 0, admin: false }, gapS: 1 },
        deliver(2),
        ...steps(2),
        { m: "meSync", user: 0 },
      ],
    },
    divergence: /live in Clerk as org:member, table has .*"deleted_at":"/,
    fixed: true,
  },
  {
    id: "g",
    title: "A Stripe key rotated for five minutes drops the trial (401 is permanent)",
    foundBy: "by hand, from the issue",
    history: {
      entity: "users",
      provider: "mailchimp",
      lagMinutes: 0,
      moves: [
        { m: "auth", service: "stripe", minutes: 5 },
        create(0, "absent"),
      ],
    },
    divergence:
      /start-stripe-trial \(clerk\/user\.created\) failed although every fault was transient/,
    fixed: true,
  },
  {
    id: "h",
    title: "A one-click unsubscribe processed before the consent's webhook is lost",
    foundBy: "seed 20261206 --without lose, path 27:0:3:1:1:1:1:1:1:1:1:1:1:1:1:1:1:1:1:1:1:1",
    history: {
      entity: "users",
      provider: "mailchimp",
      lagMinutes: 0,
      moves: [create(0, "yes"), { m: "oneClick", user: 0 }],
    },
    divergence: /subscribed at mailchimp 1 time\(s\) against Clerk/,
    fixed: true,
  },
  {
    id: "i",
    title: "A subscribe retried after the user's deletion leaves them at the provider",
    foundBy:
      "seed 20261206 --without lose,oneClick, path 27:0:3:1:1:1:1:1:1:1:1:1:1:1:1:1:1:1:1:1:1:1:1",
    history: {
      entity: "users",
      provider: "mailchimp",
      lagMinutes: 0,
      moves: [
        create(0, "yes"),
        { m: "fault", service: "mailchimp", fault: "429", times: 1, retryAfterS: 1 },
        { m: "clerk", action: { do: "deleteUser", user: 0 }, gapS: 1 },
      ],
    },
    divergence: /deleted, mailchimp still holds an address/,
    fixed: true,
  },
  {
    id: "k",
    title: "A user deleted while the user.deleted webhook is lost keeps the newsletter address",
    foundBy: "by hand, from the issue's d (erase in the deletion path itself)",
    history: LOST_DELETION,
    divergence: /deleted, public\.email_preferences still holds/,
    fixed: true,
  },
  {
    id: "l",
    title: "A user deleted while the user.deleted webhook is lost keeps their Stripe customer",
    foundBy: "the regression history of k, once k was fixed",
    history: LOST_DELETION,
    divergence: /deleted in Clerk, 1 live Stripe customer/,
    fixed: true,
  },
  {
    id: "j",
    title: "A lost webhook that gave consent is never applied, even by the reconcile",
    foundBy:
      "seed 20261206, path 20:5:4:6:6:7:7:7:7:0:1:1:2:2:2:2:2:2:3:3:3:3:3:3:3:3:3:3:3:3:3:3:3",
    history: {
      entity: "users",
      provider: "mailchimp",
      lagMinutes: 0,
      moves: [create(0, "yes"), { m: "lose", pick: 0 }],
    },
    divergence: /not subscribed at mailchimp under the current address/,
    fixed: true,
  },
  {
    id: "m",
    title:
      "A second one-click, before the app knew of a consent given between the clicks, is ignored",
    foundBy: "seed 20261206, path 84:0:0:3:0:1:3:6:6:7:9:9:11:9:9:9:9:7:7:7:7:7:7:7:7:7:7:7:7:7",
    history: {
      entity: "users",
      provider: "mailchimp",
      lagMinutes: 0,
      moves: [
        create(0, "yes"),
        { m: "lose", pick: 0 },
        { m: "oneClick", user: 0 },
        update(0, "name"),
        { m: "oneClick", user: 0 },
      ],
    },
    divergence: /subscribed at mailchimp 1 time\(s\) against Clerk/,
    fixed: true,
  },
  {
    id: "n",
    title:
      "A withdrawal only the reconcile saw never reaches the provider (two clocks in the sweep)",
    foundBy: "seed 20261206, path 276:0:3:2:5:5:4:4:4:4:5:5:5:5:5:5:5:5:5:5:5:5:5:5:5:5:5",
    history: {
      entity: "users",
      provider: "mailchimp",
      lagMinutes: 0,
      moves: [create(1, "yes"), deliver(0), update(1, "consentOff"), { m: "lose", pick: 0 }],
    },
    divergence: /subscribed at mailchimp 1 time\(s\) against Clerk/,
    fixed: true,
  },
  {
    id: "o",
    title: "A lost subscription.* webhook is never repaired: the reconcile lists only items",
    foundBy: "seed 20261206, path 10:0:3:2:4:6:10:10:1:4:4:4:4:4:4:4:4:4:4:4:4:4:4:4:4:4:4:4:4:4",
    history: {
      entity: "billing",
      provider: "mailchimp",
      lagMinutes: 0,
      moves: [
        // paymentAttempt.created, .updated, subscriptionItem.active, subscription.created ...
        { m: "clerk", action: { do: "subscribe", payer: 0, plan: "pro" }, gapS: 1 },
        // ... and Svix never delivers the subscription.created.
        { m: "lose", pick: 3 },
      ],
    },
    divergence: /billing_subscriptions has \[\], Clerk \[\{"id":"csub_/,
    fixed: true,
  },
];
