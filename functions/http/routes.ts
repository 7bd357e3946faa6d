/**
 * Maps request paths to the function's routes.
 *
 * Supabase strips `/functions/v1` before the request reaches the function,
 * while `deno task dev` and some proxies keep it, so both forms match.
 */

/** The function's name: the first path segment after `/functions/v1`. */
export const FUNCTION_NAME = "clerk-events";

/** The routes of the function. */
export type Route =
  | "webhook"
  | "inngest"
  | "health"
  | "unsubscribe"
  | "resend-webhook"
  | "users/me/sync";

const ROUTES: readonly Route[] = [
  "webhook",
  "inngest",
  "health",
  "unsubscribe",
  "resend-webhook",
  "users/me/sync",
];
// A route is one or more lower-case segments, such as `users/me/sync` or
// `resend-webhook`; anything else is no route.
const PATTERN = new RegExp(`^(?:/functions/v1)?/${FUNCTION_NAME}/([a-z][a-z0-9/-]*?)/?$`);

/** The route a path names, or `undefined` for any other path. */
export function matchRoute(pathname: string): Route | undefined {
  const name = PATTERN.exec(pathname)?.[1];
  return ROUTES.find((route) => route === name);
}
