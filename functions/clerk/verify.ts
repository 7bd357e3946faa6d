/**
 * Verifies Svix signatures of Clerk webhooks against the raw body, with any
 * of several secrets (Clerk lets you roll the secret; during the overlap,
 * both are configured).
 *
 * The checks are svix's own (`Webhook.verify` of svix 2.5, i.e.
 * standardwebhooks 1.1), step by step and with the same error messages; only
 * the HMAC is computed natively (`node:crypto`) instead of by svix's pure-JS
 * SHA-256, which was the largest single cost of a webhook (about 13 of 18 µs
 * per verify, and most of its allocation). Each secret is checked once, at
 * start-up, to sign exactly as svix does; a secret that does not (one
 * `atob` reads differently from svix's base64) is verified by svix itself.
 * `tests/verify_test.ts` holds this verifier to svix's answers on the
 * adversarial corpus.
 */
import { Webhook, WebhookVerificationError } from "svix";

export { WebhookVerificationError };

/** The Svix message headers, from either the `svix-*` or `webhook-*` names. */
export interface SvixHeaders {
  readonly id: string;
  readonly timestamp: string;
  readonly signature: string;
}

/**
 * Reads the message id, timestamp and signature headers. Svix sends
 * `svix-*`; the Standard Webhooks names `webhook-*` are accepted as well.
 * Throws WebhookVerificationError naming what is missing.
 */
export function svixHeaders(headers: Headers): SvixHeaders {
  const id = headers.get("svix-id") ?? headers.get("webhook-id") ?? "";
  const timestamp = headers.get("svix-timestamp") ?? headers.get("webhook-timestamp") ?? "";
  const signature = headers.get("svix-signature") ?? headers.get("webhook-signature") ?? "";
  if (!id || !timestamp || !signature) {
    const missing = [["svix-id", id], ["svix-timestamp", timestamp], ["svix-signature", signature]]
      .filter(([, value]) => !value).map(([name]) => name);
    throw new WebhookVerificationError(`Missing required headers: ${missing.join(", ")}`);
  }
  return { id, timestamp, signature };
}

/** Verifies a raw body against a message's headers. */
export type Verifier = (body: string, headers: SvixHeaders) => void;

/** Svix's tolerance for the message timestamp, against replays. */
const TOLERANCE_SECONDS = 5 * 60;

/**
 * Creates a verifier that accepts a message signed with any of `secrets`.
 * Throws WebhookVerificationError when none matches, or when the timestamp
 * is more than five minutes from now (Svix's tolerance, against replays).
 */
export function createVerifier(secrets: readonly string[]): Verifier {
  if (secrets.length === 0) throw new TypeError("Cannot verify webhooks: no signing secret");
  const signers = secrets.map(signerFor);
  let calls = 0;
  return (body, headers) => {
    // node:crypto takes 20 to 50 ms to load: not on the first webhook's
    // path (the cold start), but in the background from the second one on.
    if (++calls === 2) loadNativeHmac().catch(() => {});
    // The order and messages of standardwebhooks' `verify`.
    if (!headers.signature || !headers.id || !headers.timestamp) {
      throw new WebhookVerificationError("Missing required headers");
    }
    const timestamp = checkedTimestamp(headers.timestamp);
    const passed = v1Signatures(headers.signature);
    for (const sign of signers) {
      const expected = sign(headers.id, timestamp, body);
      for (const signature of passed) {
        if (timingSafeEqual(signature, expected)) return;
      }
    }
    throw new WebhookVerificationError("No matching signature found");
  };
}

/** `node:crypto`'s createHash, once {@link loadNativeHmac} has loaded it. */
let createHash: typeof import("node:crypto").createHash | undefined;
let loading: Promise<void> | undefined;

/**
 * Loads `node:crypto`, after which every verifier signs natively (where it
 * signs exactly as svix does). Verifiers start it themselves on their
 * second message; tests and warm-up code may await it.
 */
export function loadNativeHmac(): Promise<void> {
  return loading ??= import("node:crypto").then((crypto) => {
    createHash = crypto.createHash;
  });
}

/** Computes the base64 `v1` signature of a message. */
type Signer = (id: string, timestamp: number, body: string) => string;

/**
 * The signer of `secret`: svix's own until `node:crypto` is loaded, then a
 * native HMAC-SHA256, once that has been seen to sign a probe exactly as
 * svix does. Throws as svix's `new Webhook(secret)` does for a secret it
 * cannot use.
 */
function signerFor(secret: string): Signer {
  const reference = new Webhook(secret);
  const svixSigner: Signer = (id, timestamp, body) =>
    reference.sign(id, new Date(timestamp * 1000), body).slice("v1,".length);
  let settled: Signer | undefined;
  return (id, timestamp, body) => {
    if (!settled && createHash) settled = nativeOr(svixSigner, secret, createHash);
    return (settled ?? svixSigner)(id, timestamp, body);
  };
}

/**
 * A native signer for `secret` if it signs a probe exactly as `svixSigner`
 * does (the key is read with atob, which some secrets svix accepts are not
 * valid for), else `svixSigner` itself.
 */
function nativeOr(
  svixSigner: Signer,
  secret: string,
  hash: typeof import("node:crypto").createHash,
): Signer {
  let key: Uint8Array;
  try {
    const base64 = secret.startsWith("whsec_") ? secret.slice("whsec_".length) : secret;
    key = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  } catch {
    return svixSigner;
  }
  const native = hmacSha256Base64(key, hash);
  // Non-ASCII and a lone surrogate: the text encodings must agree too.
  const probe = ["msg_probe", 1_700_000_000, '{"name":"Zoë 😀 \ud800"}'] as const;
  return native(...probe) === svixSigner(...probe) ? native : svixSigner;
}

/**
 * HMAC-SHA256 (RFC 2104) of `${id}.${timestamp}.${body}` with `key`, in
 * base64. The hash states after the key's inner and outer pads are computed
 * once and copied for each message: cheaper than `createHmac`, which sets
 * the key up again for every message.
 */
function hmacSha256Base64(
  key: Uint8Array,
  createHash: typeof import("node:crypto").createHash,
): Signer {
  const block = new Uint8Array(64);
  block.set(key.byteLength > 64 ? createHash("sha256").update(key).digest() : key);
  const inner = createHash("sha256").update(block.map((byte) => byte ^ 0x36));
  const outer = createHash("sha256").update(block.map((byte) => byte ^ 0x5c));
  return (id, timestamp, body) => {
    const innerDigest = inner.copy().update(`${id}.${timestamp}.${body}`, "utf8").digest();
    return outer.copy().update(innerDigest).digest("base64");
  };
}

/**
 * The timestamp header as svix reads it (`parseInt`, base 10), or
 * WebhookVerificationError when it is not a number or is out of tolerance.
 */
function checkedTimestamp(header: string): number {
  const now = Math.floor(Date.now() / 1000);
  const timestamp = parseInt(header, 10);
  if (Number.isNaN(timestamp)) throw new WebhookVerificationError("Invalid Signature Headers");
  if (now - timestamp > TOLERANCE_SECONDS) {
    throw new WebhookVerificationError("Message timestamp too old");
  }
  if (timestamp > now + TOLERANCE_SECONDS) {
    throw new WebhookVerificationError("Message timestamp too new");
  }
  // svix signs the seconds of `new Date(timestamp * 1000)`: the same number.
  return timestamp;
}

/** The `v1` signatures of a `svix-signature` header, split as svix splits it. */
function v1Signatures(header: string): string[] {
  const signatures: string[] = [];
  for (const versioned of header.split(" ")) {
    const [version, signature] = versioned.split(",");
    if (version === "v1" && signature !== undefined) signatures.push(signature);
  }
  return signatures;
}

/**
 * Whether two strings are equal, in time that depends only on their length
 * (svix compares their UTF-8 bytes the same way).
 */
function timingSafeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}
