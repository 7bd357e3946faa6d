/**
 * Unsubscribe tokens: opaque strings that name one user and cannot be forged
 * or changed to name another.
 *
 * A token is `v1.<user id, base64url>.<HMAC-SHA256, base64url>`, the MAC
 * taken with `UNSUBSCRIBE_SECRET` over a fixed context and the user id. It
 * never expires: RFC 8058 links must keep working for as long as the email
 * sits in an inbox. Rotation: the first secret signs, every configured
 * secret verifies, so old links keep working until the old secret is
 * removed. Verification compares the whole token in constant time, so a
 * token that differs in any character (even one that base64 would decode to
 * the same bytes) is refused.
 */
import { sameText } from "../util/constant_time.ts";

/** Signs and verifies unsubscribe tokens. */
export interface UnsubscribeTokens {
  /** The token for `userId`, signed with the first secret. */
  sign(userId: string): Promise<string>;
  /** The user id `token` names, or undefined when no secret signed it. */
  verify(token: string): Promise<string | undefined>;
}

const VERSION = "v1";
// Domain separation: a MAC made for anything else with the same secret can
// never be a valid unsubscribe token.
const CONTEXT = "clerk-events/unsubscribe/v1\n";
/** Longest user id a token may carry; Clerk ids are about 32 characters. */
const MAX_USER_ID_LENGTH = 256;
const encoder = new TextEncoder();

/** Creates the signer and verifier for `secrets` (the first one signs). */
export function createUnsubscribeTokens(secrets: readonly string[]): UnsubscribeTokens {
  if (secrets.length === 0) throw new TypeError("Cannot sign unsubscribe tokens: no secret");
  const keys = secrets.map((secret) =>
    crypto.subtle.importKey(
      "raw",
      encoder.encode(secret),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign"],
    )
  );
  const tokenFor = async (key: Promise<CryptoKey>, userId: string) => {
    const mac = await crypto.subtle.sign("HMAC", await key, encoder.encode(CONTEXT + userId));
    return `${VERSION}.${base64url(encoder.encode(userId))}.${base64url(new Uint8Array(mac))}`;
  };
  return {
    sign(userId) {
      if (!userId || userId.length > MAX_USER_ID_LENGTH) {
        throw new RangeError(`Cannot sign unsubscribe token: invalid user id`);
      }
      return tokenFor(keys[0], userId);
    },
    async verify(token) {
      const userId = userIdOf(token);
      if (userId === undefined) return undefined;
      let valid = false;
      // Every key is tried, so the time taken does not say which one matched.
      for (const key of keys) {
        if (sameText(await tokenFor(key, userId), token)) valid = true;
      }
      return valid ? userId : undefined;
    },
  };
}

/** The user id a well-formed token claims, before any verification. */
function userIdOf(token: string): string | undefined {
  const parts = token.split(".");
  if (parts.length !== 3 || parts[0] !== VERSION) return undefined;
  if (parts[1].length > MAX_USER_ID_LENGTH * 2) return undefined;
  try {
    const userId = new TextDecoder("utf-8", { fatal: true }).decode(fromBase64url(parts[1]));
    return userId ? userId : undefined;
  } catch {
    return undefined;
  }
}

function base64url(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function fromBase64url(text: string): Uint8Array {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) throw new TypeError("Not base64url");
  const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
  const binary = atob(base64.padEnd(Math.ceil(base64.length / 4) * 4, "="));
  return Uint8Array.from(binary, (char) => char.charCodeAt(0));
}
