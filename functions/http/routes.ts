/**
 * Maps request paths to the function's routes.
 *
 * Supabase strips `/functions/v1` before the request reaches the function,
 * while `deno task dev` and some proxies keep it, so both forms match.
 */

/** The function's name: the first path segment after `/functions/v1`. */
export const FUNCTION_NAME = "clerk-events";

// A route is one or more lower-case segments, such as `users/me/sync` or
// `resend-webhook`; anything else is no route. An empty name is the index.
const PATTERN = new RegExp(`^(?:/functions/v1)?/${FUNCTION_NAME}(?:/([a-z][a-z0-9/-]*?))?/?$`);

/**
 * The route a path names (the part after the function's name, `""` for the
 * function's own root), or `undefined` for a path of another shape. Which
 * routes exist is the app's to say (`../app/compose.ts`).
 */
export function matchRoute(pathname: string): string | undefined {
  const match = PATTERN.exec(pathname);
  return match ? match[1] ?? "" : undefined;
}

/**
 * The path of an absolute URL, as `new URL(url).pathname` gives it, without
 * parsing the whole URL again on every request: a Request's `url` is already
 * serialised by the URL parser, so its path is what lies between the
 * authority and the first `?` or `#`.
 */
export function pathOf(url: string): string {
  const scheme = url.indexOf("://");
  const start = scheme === -1 ? -1 : url.indexOf("/", scheme + 3);
  if (start === -1) return new URL(url).pathname;
  let end = url.length;
  const query = url.indexOf("?", start);
  if (query !== -1) end = query;
  const hash = url.indexOf("#", start);
  if (hash !== -1 && hash < end) end = hash;
  return url.slice(start, end);
}
