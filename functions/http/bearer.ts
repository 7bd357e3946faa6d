/**
 * Bearer tokens compared in constant time: each is hashed with Web Crypto,
 * and the digests compared with the app's one constant-time comparison
 * (`../util/constant_time.ts`), loaded on the first comparison: this
 * module is on the start-up path (the health route), and `node:crypto`
 * costs cold start.
 */

const encoder = new TextEncoder();

async function digest(value: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(value)));
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
  const [digestSent, { sameBytes }] = await Promise.all([
    digest(sent),
    import("../util/constant_time.ts"),
  ]);
  let found = false;
  for (const token of accepted) {
    if (token === "") continue;
    found = sameBytes(digestSent, await digest(token)) || found;
  }
  return found;
}
