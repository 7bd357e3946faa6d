/**
 * The one constant-time comparison of the app (bearer tokens, unsubscribe
 * tokens): Node's `timingSafeEqual`, which Deno builds in.
 *
 * Loading `node:crypto` costs about 28 ms (measured with Deno 2.9 on
 * 2026-12-06), so modules on the start-up path import this one with
 * `import()` when they first compare.
 */
import { timingSafeEqual } from "node:crypto";

const encoder = new TextEncoder();

/** Whether `a` and `b` are equal, in time that depends only on their lengths. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Whether the strings `a` and `b` are equal, compared as UTF-8 in constant time. */
export function sameText(a: string, b: string): boolean {
  return sameBytes(encoder.encode(a), encoder.encode(b));
}
