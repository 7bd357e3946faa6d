/**
 * The exact commands that start the local tools, with their pinned versions,
 * so that every message, the banner, `deno task up` and the docs name the
 * same ones.
 */
import importMap from "../../import_map.json" with { type: "json" };

/** The Inngest Dev Server's npm package, pinned. */
export const INNGEST_CLI = "inngest-cli@1.45.1";

/** The Supabase CLI's npm package, pinned where the import map pins it. */
export const SUPABASE_CLI = String(importMap.imports.supabase).replace(/^npm:/, "");

/** Where the Inngest Dev Server listens unless told otherwise. */
export const INNGEST_DEV_SERVER_URL = "http://127.0.0.1:8288";

/** The command that starts the Inngest Dev Server pointed at `serveUrl` (the /inngest route). */
export function inngestDevCommand(serveUrl: string): string {
  return `npx --yes ${INNGEST_CLI} dev --no-discovery -u ${serveUrl}`;
}

/**
 * The command that shows why the Inngest CLI cannot start: its npm package
 * downloads the binary from GitHub on first install, and npx hides that
 * install script's output (and its error) unless asked.
 */
export function inngestInstallCheckCommand(): string {
  return `npx --yes --foreground-scripts ${INNGEST_CLI} version`;
}

/** The command that runs the Supabase CLI with `args`. */
export function supabaseCommand(args: string): string {
  return `npx --yes ${SUPABASE_CLI} ${args}`;
}
