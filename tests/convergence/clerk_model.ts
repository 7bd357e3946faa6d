/**
 * Clerk's truth in a history: its users, organizations and memberships as
 * Clerk holds them, changed by {@link ClerkAction}s on Clerk's own clock.
 * Each change is written to the Backend API stand-in (so that the reconcile
 * and /users/me/sync read it) and becomes one webhook message, shaped like
 * Clerk's and signed at delivery time.
 *
 * Clerk's clock starts before the processing clock (the real one, which the
 * database's `now()` reads), by the history's lag plus the sum of its gaps,
 * and moves forward with each change, never past the processing clock: a
 * message is processed up to hours after Clerk stamped it. An
 * action taken on our side (an unsubscribe) happens at processing time, so
 * Clerk's clock catches up with it: what Clerk does next comes after.
 *
 * Clerk Billing (issue 28) plugs in here: its subscriptions, items and
 * payment attempts (`billing_model.ts`) change on the same clock and send
 * their messages through {@link ClerkModel.messages} like the others.
 */
import type { BillingStandIn } from "../support/clerk_billing.ts";
import { type BillingAction, BillingModel } from "./billing_model.ts";
import {
  type ClerkApi,
  clerkMembership,
  type ClerkMembershipObject,
  clerkOrganization,
  type ClerkOrganizationObject,
  clerkUser,
  type ClerkUserObject,
} from "../support/clerk_api.ts";

/** Consent as a sign-up form sets it: `unsafe_metadata.newsletter`. */
export type Consent = "yes" | "no" | "absent";

/** A change Clerk makes. Indexes pick users and organizations of the history. */
export type ClerkAction =
  | { readonly do: "createUser"; readonly user: number; readonly consent: Consent }
  | {
    readonly do: "updateUser";
    readonly user: number;
    readonly change: "name" | "address" | "consentOn" | "consentOff";
  }
  | { readonly do: "deleteUser"; readonly user: number }
  | { readonly do: "createOrg"; readonly org: number }
  | { readonly do: "updateOrg"; readonly org: number }
  | { readonly do: "deleteOrg"; readonly org: number }
  | { readonly do: "join"; readonly org: number; readonly user: number; readonly admin: boolean }
  | { readonly do: "setRole"; readonly org: number; readonly user: number; readonly admin: boolean }
  | { readonly do: "leave"; readonly org: number; readonly user: number }
  | BillingAction;

/** One webhook message Clerk sends for a change. */
export interface Message {
  /** Position among the history's messages, from 0. */
  readonly n: number;
  readonly svixId: string;
  readonly type: string;
  /** The JSON body, as Svix sends it. */
  readonly body: string;
  /** The id of the object it is about. */
  readonly objectId: string;
  /** Clerk's timestamp of the change (the envelope's). */
  readonly at: number;
  /** For user.created/updated: the consent it carries. */
  readonly consent?: boolean;
}

/** A user of the history as Clerk knows it, with what was ever true of them. */
export interface UserTruth {
  readonly index: number;
  readonly id: string;
  current: ClerkUserObject;
  deleted: boolean;
  /** Every address and name the user ever had (none may outlive a deletion). */
  readonly addresses: Set<string>;
  readonly names: Set<string>;
  version: number;
}

/** An organization of the history. */
export interface OrgTruth {
  readonly index: number;
  readonly id: string;
  current: ClerkOrganizationObject;
  deleted: boolean;
  version: number;
}

/** A membership: one join of a user to an organization (a re-join is a new one). */
export interface MembershipTruth {
  readonly id: string;
  readonly org: number;
  readonly user: number;
  current: ClerkMembershipObject;
  /** Left, or ended with its organization or user. */
  ended: boolean;
}

/** Clerk's side of a history. */
export class ClerkModel {
  readonly users = new Map<number, UserTruth>();
  readonly orgs = new Map<number, OrgTruth>();
  readonly memberships: MembershipTruth[] = [];
  readonly messages: Message[] = [];
  /** Clerk Billing's payers, subscriptions, items and payment attempts. */
  readonly billing: BillingModel;
  /** Clerk's clock (ms). */
  now: number;
  readonly #api: ClerkApi;
  readonly #tag: string;
  #ids = 0;

  /**
   * `tag` makes ids, addresses and names unique to the history (and readable
   * in a report); `start` is Clerk's clock at the first change; `billing`
   * is the stand-in's Clerk Billing (without it, billing changes reach only
   * the webhooks).
   */
  constructor(api: ClerkApi, tag: string, start: number, billing?: BillingStandIn) {
    this.#api = api;
    this.#tag = tag;
    this.now = start;
    this.billing = new BillingModel({
      now: () => this.now,
      tick: () => void (this.now += 1),
      id: (prefix) => this.#id(prefix),
      message: (type, objectId, data) => this.#message(type, objectId, data).n,
    }, billing);
  }

  /** Moves Clerk's clock at least to `at` (something happened on our side then). */
  catchUp(at: number): void {
    this.now = Math.max(this.now, at);
  }

  /** Applies `action` after `gapMs` on Clerk's clock; returns its messages (none if it does not apply). */
  apply(action: ClerkAction, gapMs: number): Message[] {
    // Clerk's clock never passes the processing clock: what Clerk does now
    // cannot be stamped later than when we process it.
    this.now = Math.max(this.now + 1, Math.min(this.now + gapMs, Date.now()));
    switch (action.do) {
      case "createUser":
        return this.#createUser(action.user, action.consent);
      case "updateUser":
        return this.#updateUser(action.user, action.change);
      case "deleteUser":
        return this.#deleteUser(action.user);
      case "createOrg":
        return this.#createOrg(action.org);
      case "updateOrg":
        return this.#updateOrg(action.org);
      case "deleteOrg":
        return this.#deleteOrg(action.org);
      case "join":
        return this.#join(action.org, action.user, action.admin);
      case "setRole":
        return this.#setRole(action.org, action.user, action.admin);
      case "leave":
        return this.#leave(action.org, action.user);
      default: {
        const first = this.messages.length;
        this.billing.apply(action);
        return this.messages.slice(first);
      }
    }
  }

  /** The live user `index`, if any. */
  liveUser(index: number): UserTruth | undefined {
    const user = this.users.get(index);
    return user && !user.deleted ? user : undefined;
  }

  /** The live membership of `user` in `org`, if any. */
  liveMembership(org: number, user: number): MembershipTruth | undefined {
    return this.memberships.find((m) => m.org === org && m.user === user && !m.ended);
  }

  #id(prefix: string): string {
    this.#ids += 1;
    // The letter after the number keeps the padding from making x1 and x10 one id.
    const body = `${this.#tag}x${this.#ids}y`.replace(/[^A-Za-z0-9]/g, "");
    return `${prefix}_${body.padEnd(27, "0")}`;
  }

  #address(user: number, version: number): string {
    return `u${user}v${version}.${this.#tag}@example.org`.toLowerCase();
  }

  #createUser(index: number, consent: Consent): Message[] {
    if (this.users.has(index)) return [];
    const id = this.#id("user");
    const email = this.#address(index, 0);
    const object = clerkUser({
      id,
      email,
      firstName: `Ada${index}${this.#tag}`,
      lastName: `Lovelace${index}${this.#tag}`,
      createdAt: this.now,
      updatedAt: this.now,
    });
    object.unsafe_metadata = consent === "absent" ? {} : { newsletter: consent === "yes" };
    const user: UserTruth = {
      index,
      id,
      current: object,
      deleted: false,
      addresses: new Set(addressesOf(object)),
      names: new Set([object.first_name as string, object.last_name as string]),
      version: 0,
    };
    this.users.set(index, user);
    this.#api.putUser(object);
    return [this.#message("user.created", id, object)];
  }

  #updateUser(index: number, change: string): Message[] {
    const user = this.liveUser(index);
    if (!user) return [];
    user.version += 1;
    const next: ClerkUserObject = structuredClone(user.current);
    next.updated_at = this.now;
    if (change === "name") {
      next.first_name = `Ada${index}${this.#tag}v${user.version}`;
      user.names.add(next.first_name as string);
    } else if (change === "address") {
      const email = this.#address(index, user.version);
      const id = `idn_${user.id.slice(5, 20)}${user.version}`;
      const addresses = next.email_addresses as Record<string, unknown>[];
      addresses.push({ ...addresses[addresses.length - 1], id, email_address: email });
      next.primary_email_address_id = id;
      user.addresses.add(email);
    } else {
      next.unsafe_metadata = {
        ...(next.unsafe_metadata as object),
        newsletter: change === "consentOn",
      };
    }
    user.current = next;
    this.#api.putUser(next);
    return [this.#message("user.updated", user.id, next)];
  }

  #deleteUser(index: number): Message[] {
    const user = this.liveUser(index);
    if (!user) return [];
    user.deleted = true;
    this.#api.deleteUser(user.id);
    for (const m of this.memberships) {
      if (m.user === index && !m.ended) {
        m.ended = true;
        this.#api.deleteMembership(m.id);
      }
    }
    return [this.#message("user.deleted", user.id, { id: user.id, object: "user", deleted: true })];
  }

  #createOrg(index: number): Message[] {
    if (this.orgs.has(index)) return [];
    const id = this.#id("org");
    const object = clerkOrganization({
      id,
      name: `Org ${index} ${this.#tag}`,
      createdAt: this.now,
      updatedAt: this.now,
      publicMetadata: { plan: "team", version: 0 },
    });
    this.orgs.set(index, { index, id, current: object, deleted: false, version: 0 });
    this.#api.putOrganization(object);
    return [this.#message("organization.created", id, object)];
  }

  #updateOrg(index: number): Message[] {
    const org = this.orgs.get(index);
    if (!org || org.deleted) return [];
    org.version += 1;
    const next = {
      ...structuredClone(org.current),
      name: `Org ${index} ${this.#tag} v${org.version}`,
      slug: `org-${index}-${this.#tag}-v${org.version}`.toLowerCase(),
      public_metadata: { plan: "team", version: org.version },
      updated_at: this.now,
    };
    org.current = next;
    this.#api.putOrganization(next);
    return [this.#message("organization.updated", org.id, next)];
  }

  #deleteOrg(index: number): Message[] {
    const org = this.orgs.get(index);
    if (!org || org.deleted) return [];
    org.deleted = true;
    this.#api.deleteOrganization(org.id);
    for (const m of this.memberships) if (m.org === index) m.ended = true;
    return [
      this.#message("organization.deleted", org.id, {
        id: org.id,
        object: "organization",
        slug: org.current.slug,
        deleted: true,
      }),
    ];
  }

  #join(orgIndex: number, userIndex: number, admin: boolean): Message[] {
    const org = this.orgs.get(orgIndex);
    const user = this.liveUser(userIndex);
    if (!org || org.deleted || !user || this.liveMembership(orgIndex, userIndex)) return [];
    const object = clerkMembership({
      id: this.#id("orgmem"),
      organization: org.current,
      userId: user.id,
      role: admin ? "org:admin" : "org:member",
      createdAt: this.now,
      updatedAt: this.now,
    });
    this.memberships.push({
      id: object.id,
      org: orgIndex,
      user: userIndex,
      current: object,
      ended: false,
    });
    this.#api.putMembership(object);
    return [this.#message("organizationMembership.created", object.id, object)];
  }

  #setRole(orgIndex: number, userIndex: number, admin: boolean): Message[] {
    const m = this.liveMembership(orgIndex, userIndex);
    if (!m) return [];
    const role = admin ? "org:admin" : "org:member";
    const next = {
      ...clerkMembership({
        id: m.id,
        organization: this.orgs.get(orgIndex)!.current,
        userId: this.users.get(userIndex)!.id,
        role,
        createdAt: m.current.created_at,
        updatedAt: this.now,
      }),
    };
    m.current = next;
    this.#api.putMembership(next);
    return [this.#message("organizationMembership.updated", m.id, next)];
  }

  #leave(orgIndex: number, userIndex: number): Message[] {
    const m = this.liveMembership(orgIndex, userIndex);
    if (!m) return [];
    m.ended = true;
    this.#api.deleteMembership(m.id);
    const data = { ...structuredClone(m.current), updated_at: this.now };
    return [this.#message("organizationMembership.deleted", m.id, data)];
  }

  #message(type: string, objectId: string, data: Record<string, unknown>): Message {
    const n = this.messages.length;
    const envelope = {
      data,
      event_attributes: { http_request: { client_ip: "0.0.0.0", user_agent: "Mozilla/5.0" } },
      instance_id: "ins_convergence",
      object: "event",
      timestamp: this.now,
      type,
    };
    const message: Message = {
      n,
      // As for ids: n1 and n10 must not pad to one svix-id (Inngest would drop one).
      svixId: `msg_${this.#tag}n${n}m`.replace(/[^A-Za-z0-9_]/g, "").padEnd(31, "0"),
      type,
      body: JSON.stringify(envelope),
      objectId,
      at: this.now,
      ...(type === "user.created" || type === "user.updated" ? { consent: consentOf(data) } : {}),
    };
    this.messages.push(message);
    return message;
  }
}

/** Whether a Clerk user object consents: `unsafe_metadata.newsletter === true`. */
export function consentOf(user: Record<string, unknown>): boolean {
  const metadata = user.unsafe_metadata as { newsletter?: unknown } | null | undefined;
  return metadata?.newsletter === true;
}

/** The primary address of a Clerk user object. */
export function primaryAddress(user: ClerkUserObject): string | null {
  const addresses = (user.email_addresses ?? []) as { id: string; email_address: string }[];
  return addresses.find((a) => a.id === user.primary_email_address_id)?.email_address ?? null;
}

function addressesOf(user: ClerkUserObject): string[] {
  return ((user.email_addresses ?? []) as { email_address: string }[]).map((a) => a.email_address);
}
