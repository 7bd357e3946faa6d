/**
 * Counts emails from the Resend stand-in's raw record of requests, the way
 * a recipient would count them, instead of trusting what the stand-in kept.
 */
import { IDEMPOTENCY_KEY_TTL_MS, type ResendRequest } from "./resend_api.ts";

/** What the raw record shows for one idempotency key. */
export interface KeyTally {
  /** Requests answered 200, replays included. */
  readonly accepted: number;
  /**
   * Emails a recipient got: accepted requests that were not a replay of an
   * earlier email under the same key within Resend's 24-hour window.
   */
  readonly emails: number;
  /** Distinct bodies sent under the key (more than one is a misuse). */
  readonly bodies: number;
  /** Requests answered 409 invalid_idempotent_request. */
  readonly conflicts: number;
}

/** Tallies `received` by idempotency key. */
export function tallyByKey(received: readonly ResendRequest[]): Map<string, KeyTally> {
  const groups = new Map<string, ResendRequest[]>();
  for (const request of received) {
    const key = request.idempotencyKey ?? `(no key #${request.n})`;
    groups.set(key, [...(groups.get(key) ?? []), request]);
  }
  const tallies = new Map<string, KeyTally>();
  for (const [key, requests] of groups) {
    let emails = 0;
    let windowStart: number | undefined;
    for (const r of requests) {
      if (r.status !== 200) continue;
      if (windowStart === undefined || r.at - windowStart >= IDEMPOTENCY_KEY_TTL_MS) {
        emails += 1;
        windowStart = r.at;
      }
    }
    tallies.set(key, {
      accepted: requests.filter((r) => r.status === 200).length,
      emails,
      bodies: new Set(requests.map((r) => r.body)).size,
      conflicts: requests.filter((r) => r.errorName === "invalid_idempotent_request").length,
    });
  }
  return tallies;
}
