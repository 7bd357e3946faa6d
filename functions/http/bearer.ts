/**
 * Bearer tokens compared in constant time.
 *
 * Web Crypto, not `node:crypto`: this module is on every start-up path (the
 * health route), and loading `node:crypto` costs 20 to 50 ms of cold start.
 */

const encoder = new TextEncoder();

async function digest(value: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(value)));
}

/** Whether two 32-byte digests are equal, looking at every byte whatever they hold. */
function sameDigest(a: Uint8Array, b: Uint8Array): boolean {
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= a[i] ^ b[i];
  return difference === 0;
}

/**
 * Whether `req` carries `Authorization: Bearer <token>` for one of
 * `accepted` (several during a rotation). The token sent and each accepted
 * one are hashed first, and every accepted token is compared, so the time
 * taken says nothing about the length, the first differing character, or
 * which token matched.
 */
export async function hasBearer(
  req: Request,
  accepted: readonly string[] | undefined,
): Promise<boolean> {
  const header = req.headers.get("authorization");
  const tokens = (accepted ?? []).filter((token) => token !== "");
  if (!tokens.length || !header) return false;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  const found = await isOneOf(match?.[1] ?? "", tokens);
  return found && match !== null;
}

/**
 * Whether `sent` equals one of `accepted`, compared the same way: hashed,
 * and against every accepted value. Empty accepted values never match.
 */
export async function isOneOf(sent: string, accepted: readonly string[]): Promise<boolean> {
  const digestSent = await digest(sent);
  let found = false;
  for (const token of accepted) {
    if (token === "") continue;
    found = sameDigest(digestSent, await digest(token)) || found;
  }
  return found;
}
