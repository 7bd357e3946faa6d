/**
 * CORS for routes that browsers call from the app's origin: a grant only for
 * the listed origins, echoed back one at a time (never `*`), and no grant at
 * all for any other origin.
 */

/** What a route allows across origins. */
export interface CorsPolicy {
  /** Exact origins, e.g. `https://app.example.com`. */
  readonly origins: readonly string[];
  /** Methods besides OPTIONS, e.g. `["POST"]`. */
  readonly methods: readonly string[];
  /** Request headers the browser may send, e.g. `["authorization"]`. */
  readonly headers: readonly string[];
  /** Response headers scripts may read, e.g. `["retry-after"]`. */
  readonly exposeHeaders?: readonly string[];
  /** How long a browser may cache a preflight answer. Default 600 s. */
  readonly maxAgeSeconds?: number;
}

/** Whether `origin` (the request's `Origin` header) gets a grant. */
export function isAllowedOrigin(policy: CorsPolicy, origin: string | null): origin is string {
  return origin !== null && policy.origins.includes(origin);
}

/**
 * The headers to add to an answer: the grant for an allowed origin, and
 * `Vary: Origin` in every case, so that caches keep answers apart.
 */
export function corsHeaders(policy: CorsPolicy, origin: string | null): Record<string, string> {
  if (!isAllowedOrigin(policy, origin)) return { vary: "Origin" };
  const headers: Record<string, string> = {
    vary: "Origin",
    "access-control-allow-origin": origin,
  };
  if (policy.exposeHeaders?.length) {
    headers["access-control-expose-headers"] = policy.exposeHeaders.join(", ");
  }
  return headers;
}

/**
 * The answer to an `OPTIONS` request: 204 with the grant for an allowed
 * origin; 204 without any grant otherwise, so the browser refuses the call.
 */
export function preflightResponse(policy: CorsPolicy, req: Request): Response {
  const origin = req.headers.get("origin");
  const headers: Record<string, string> = {
    ...corsHeaders(policy, origin),
    allow: ["OPTIONS", ...policy.methods].join(", "),
  };
  if (isAllowedOrigin(policy, origin)) {
    headers["access-control-allow-methods"] = policy.methods.join(", ");
    headers["access-control-allow-headers"] = policy.headers.join(", ");
    headers["access-control-max-age"] = String(policy.maxAgeSeconds ?? 600);
    headers.vary = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers";
  }
  return new Response(null, { status: 204, headers });
}
