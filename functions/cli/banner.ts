/**
 * The start-up banner of `deno task dev`: where the routes are, how Inngest
 * is set up, and what is wrong with the settings. It names settings, never
 * their values.
 */
import { FUNCTION_NAME, type Route } from "../http/routes.ts";
import { allProblems, type Settings } from "../settings.ts";

/** What {@link formatBanner} describes. */
export interface BannerOptions {
  /** Where the server listens, e.g. `http://127.0.0.1:54321`. */
  readonly origin: string;
  readonly settings: Settings;
  /** Where the environment came from, one line. */
  readonly envNote: string;
}

const METHODS: Record<Route, string> = {
  webhook: "POST",
  inngest: "GET, POST, PUT",
  health: "GET",
  "users/me/sync": "POST, OPTIONS",
};

/** The full local URL of `route`, with the `/functions/v1` prefix Supabase uses. */
export function routeUrl(origin: string, route: Route): string {
  return `${origin}/functions/v1/${FUNCTION_NAME}/${route}`;
}

/** The banner as plain text, one line per item. */
export function formatBanner(options: BannerOptions): string {
  const { origin, settings } = options;
  const lines = [`${FUNCTION_NAME} dev server`, "", "Routes:"];
  for (const route of Object.keys(METHODS) as Route[]) {
    lines.push(`  ${route.padEnd(13)} ${METHODS[route].padEnd(15)} ${routeUrl(origin, route)}`);
  }
  lines.push("");

  const inngest = settings.inngest;
  if (!inngest.ok) {
    lines.push("Inngest mode: unknown (the Inngest settings are invalid, see below)");
  } else if (inngest.value.mode === "dev") {
    lines.push("Inngest mode: dev (events go to the Inngest Dev Server; no keys needed)");
  } else {
    lines.push(
      "Inngest mode: cloud (events go to Inngest Cloud; set INNGEST_DEV=1 for local runs)",
    );
  }
  lines.push(
    "Inngest Dev Server:",
    `  npx inngest-cli@latest dev -u ${routeUrl(origin, "inngest")}`,
    "",
    `Environment: ${options.envNote}`,
  );

  const missing = Object.entries(settings.presence)
    .filter(([, state]) => state === "missing")
    .map(([name]) => name);
  lines.push(`Settings not set: ${missing.length ? missing.join(", ") : "none"}`);
  const problems = allProblems(settings);
  if (problems.length) {
    lines.push("Settings problems (the routes that need them answer 503):");
    for (const problem of problems) lines.push(`  - ${problem}`);
  } else {
    lines.push("Settings problems: none");
  }
  lines.push("", "Send a signed test webhook: deno task webhook:send", "Press Ctrl+C to stop.");
  return lines.join("\n");
}
