/**
 * A reproducible stream of Clerk webhook deliveries for many users, as Svix
 * would deliver it: created, some updates, sometimes a delete, in shuffled
 * order, with a share of deliveries repeating an earlier svix-id, and a few
 * repeated much later (Svix retries for days, past Inngest's 24-hour
 * deduplication of event ids). The seed fixes users, ids and order.
 */
import { buildClerkPayload } from "../../scripts/clerk_payloads.ts";

/** A seeded pseudo-random source (mulberry32), so a failing run can be replayed. */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/** A Clerk- or Svix-looking id drawn from `next`, so that a seed fixes it. */
export function seededId(prefix: string, next: () => number): string {
  return prefix + Array.from({ length: 27 }, () => BASE62[Math.floor(next() * 62)]).join("");
}

/** A number from `seed` and `parts`, the same for the same input (FNV-1a). */
export function hashOf(seed: number, ...parts: (string | number)[]): number {
  let h = 0x811c9dc5 ^ seed;
  for (const char of parts.join("|")) {
    h ^= char.charCodeAt(0);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) / 4294967296;
}

/** One message, with its svix-id. */
export interface Message {
  readonly svixId: string;
  readonly userId: string;
  readonly type: "user.created" | "user.updated" | "user.deleted";
  readonly body: string;
}

/** What a user must look like once every message has been applied. */
export interface FinalUser {
  readonly id: string;
  readonly deleted: boolean;
  readonly email: string;
  readonly firstName: string;
  readonly updatedAt: number;
}

/** The workload: deliveries in sending order, and the truth to check against. */
export interface Workload {
  /** Every delivery, duplicates included, in the order they are sent. */
  readonly deliveries: readonly Message[];
  /** Distinct messages by svix-id. */
  readonly messages: ReadonlyMap<string, Message>;
  readonly users: ReadonlyMap<string, FinalUser>;
  /** How many deliveries repeat an earlier svix-id. */
  readonly duplicates: number;
  /**
   * user.created deliveries that Svix repeats more than 24 hours later
   * (same svix-id): by then Inngest no longer deduplicates the id, and
   * Resend has forgotten the email's idempotency key.
   */
  readonly late: readonly Message[];
}

/** Options for {@link buildWorkload}. */
export interface WorkloadOptions {
  readonly users: number;
  readonly seed: number;
  /** Share of deliveries that repeat an earlier svix-id. Default 0.2. */
  readonly duplicateShare?: number;
  /** Chance that a user is deleted after their updates. Default 0.3. */
  readonly deleteChance?: number;
  /** Most updates per user (uniform from 0). Default 4. */
  readonly maxUpdates?: number;
  /** Share of user.created messages repeated late. Default 0.05, at least one. */
  readonly lateShare?: number;
}

/** Builds a workload. The same options give the same shape and order. */
export function buildWorkload(options: WorkloadOptions): Workload {
  const next = random(options.seed);
  const base = Date.UTC(2026, 10, 1);
  const messages: Message[] = [];
  const users = new Map<string, FinalUser>();

  for (let n = 0; n < options.users; n++) {
    const userId = seededId("user_", next);
    const updates = Math.floor(next() * ((options.maxUpdates ?? 4) + 1));
    let final: FinalUser | undefined;
    for (let version = 0; version <= updates; version++) {
      const type = version === 0 ? "user.created" : "user.updated";
      const updatedAt = base + n * 100_000 + version * 1_000;
      const email = `u${n}.v${version}@example.com`;
      const firstName = `User ${n} v${version}`;
      const payload = buildClerkPayload(type, {
        userId,
        at: new Date(updatedAt),
        data: {
          first_name: firstName,
          updated_at: updatedAt,
          email_addresses: [{ id: "idn_primary", email_address: email, object: "email_address" }],
          primary_email_address_id: "idn_primary",
        },
      });
      messages.push({
        svixId: seededId("msg_", next),
        userId,
        type,
        body: JSON.stringify(payload),
      });
      final = { id: userId, deleted: false, email, firstName, updatedAt };
    }
    if (next() < (options.deleteChance ?? 0.3)) {
      const at = new Date(base + n * 100_000 + 99_000);
      const body = JSON.stringify(buildClerkPayload("user.deleted", { userId, at }));
      messages.push({ svixId: seededId("msg_", next), userId, type: "user.deleted", body });
      final = { ...final!, deleted: true };
    }
    users.set(userId, final!);
  }

  shuffle(messages, next);
  // Insert repeats so that `duplicateShare` of all deliveries repeat an
  // earlier id: after each message, repeat a random earlier one with
  // probability share / (1 - share).
  const share = options.duplicateShare ?? 0.2;
  const repeatChance = share / (1 - share);
  const deliveries: Message[] = [];
  let duplicates = 0;
  for (const message of messages) {
    deliveries.push(message);
    if (next() < repeatChance) {
      deliveries.push(deliveries[Math.floor(next() * deliveries.length)]);
      duplicates += 1;
    }
  }
  const createdOnes = messages.filter((m) => m.type === "user.created");
  const late = createdOnes.filter((_m, i) => i === 0 || next() < (options.lateShare ?? 0.05));
  return {
    deliveries,
    messages: new Map(messages.map((m) => [m.svixId, m])),
    users,
    duplicates,
    late,
  };
}

function shuffle<T>(items: T[], next: () => number): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
}
