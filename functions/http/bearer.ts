/**
 * Bearer tokens compared in constant time.
 */
import { createHash, timingSafeEqual } from "node:crypto";

const digest = (value: string) => createHash("sha256").update(value).digest();

/**
 * Whether `req` carries `Authorization: Bearer <expected>`. Both sides are
 * hashed first, so the comparison takes the same time whatever the length or
 * the first differing character of the token sent.
 */
export function hasBearer(req: Request, expected: string | undefined): boolean {
  const header = req.headers.get("authorization");
  if (!expected || !header) return false;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return timingSafeEqual(digest(match?.[1] ?? ""), digest(expected)) && match !== null;
}
