/**
 * The start-up banner of `deno task dev`: where the routes are, how Inngest
 * is set up, and what is required now, from the same readiness check as
 * `/health`, so that the two always agree. It names settings, never their
 * values.
 */
import { inngestDevCommand } from "../functions/health/local_tools.ts";
import type { RouteInfo } from "../functions/app/compose.ts";
import { FUNCTION_NAME } from "../functions/http/routes.ts";
import type { Readiness } from "../functions/health/readiness.ts";
import type { Settings } from "../functions/settings.ts";

/** What {@link formatBanner} describes. */
export interface BannerOptions {
  /** Where the server listens, e.g. `http://127.0.0.1:8930`. */
  readonly origin: string;
  readonly settings: Settings;
  /** What `/health` would answer now. */
  readonly readiness: Readiness;
  /** Where the Inngest Dev Server is expected (dev mode). */
  readonly devServerUrl?: string;
  /** Where the environment came from, one line. */
  readonly envNote: string;
  /** The app's routes, as its features declare them (`App.routes`). */
  readonly routes: readonly Pick<RouteInfo, "path" | "methods">[];
}

/** The last line of the banner. */
export const BANNER_END = "Press Ctrl+C to stop.";

/** The full local URL of `route`, with the `/functions/v1` prefix Supabase uses. */
export function routeUrl(origin: string, route: string): string {
  return `${origin}/functions/v1/${FUNCTION_NAME}/${route}`;
}

/** The function's own URL: in dev mode it answers with the list of routes. */
export function indexUrl(origin: string): string {
  return `${origin}/functions/v1/${FUNCTION_NAME}/`;
}

/** The banner as plain text, one line per item. */
export function formatBanner(options: BannerOptions): string {
  const { origin, settings, readiness } = options;
  const lines = [`${FUNCTION_NAME} dev server`, "", "Routes:"];
  const routes = options.routes.map(({ path, methods }) => ({ path, methods: methods.join(", ") }));
  const routeWidth = Math.max(...routes.map((route) => route.path.length));
  const methodsWidth = Math.max(...routes.map((route) => route.methods.length));
  for (const { path, methods } of routes) {
    lines.push(
      `  ${path.padEnd(routeWidth)}  ${methods.padEnd(methodsWidth)}  ${routeUrl(origin, path)}`,
    );
  }
  lines.push(`  (in dev mode, ${indexUrl(origin)} lists them too)`, "");

  const inngest = settings.inngest;
  const dev = inngest.ok && inngest.value.mode === "dev";
  if (!inngest.ok) {
    lines.push("Inngest mode: unknown (the Inngest settings are invalid, see below)");
  } else if (dev) {
    lines.push("Inngest mode: dev (events go to the Inngest Dev Server; no keys needed)");
  } else {
    lines.push(
      "Inngest mode: cloud (events go to Inngest Cloud; set INNGEST_DEV=1 for local runs)",
    );
  }
  if (dev) {
    const where = options.devServerUrl ?? "its URL";
    lines.push(
      readiness.inngestDevServer === "reachable"
        ? `Inngest Dev Server: answers at ${where} (the command for this function:)`
        : `Inngest Dev Server: no answer at ${where}; start it with:`,
      `  ${inngestDevCommand(routeUrl(origin, "inngest"))}`,
    );
  }
  lines.push(`Database: ${readiness.database.replace("_", " ")} (SUPABASE_URL)`, "");

  // The note names itself ("Settings: .env, ..."): no label of ours in front.
  lines.push(options.envNote);
  const health = routeUrl(origin, "health");
  if (readiness.ready) {
    lines.push(`Status: ready (GET ${health} answers 200)`, "Required now: nothing missing");
  } else {
    lines.push(
      `Status: not ready (GET ${health} answers 503)`,
      "Required now, missing or wrong (the routes that need them answer 503):",
    );
    for (const problem of readiness.problems) lines.push(`  - ${problem}`);
  }
  const optional = readiness.optionalUnset;
  lines.push(
    `Optional ${dev ? "in dev mode" : "now"}, not set: ${
      optional.length ? optional.join(", ") : "none"
    }`,
    dev
      ? `Health details: curl ${health} (shown to anyone in dev mode)`
      : `Health details: curl -H "Authorization: Bearer $HEALTH_TOKEN" ${health}`,
    "",
    "Send a signed test webhook: deno task webhook:send",
    BANNER_END,
  );
  return lines.join("\n");
}
