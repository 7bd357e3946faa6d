/**
 * `deno task deploy [flags]`: builds the artifact (`deno task build`), then
 * runs the pinned Supabase CLI's `functions deploy clerk-events [flags]`, so
 * that what is deployed is always built from the code as it is now. Flags go
 * to the CLI as they are (`--project-ref <ref>`, `--use-api`, ...).
 */
import importMap from "../import_map.json" with { type: "json" };
import { buildFunction, REPO_ROOT } from "./build.ts";

/** The `deno` arguments that run the pinned CLI's `functions deploy clerk-events <flags>`. */
export function deployArgs(flags: string[]): string[] {
  return ["run", "-A", "--quiet", importMap.imports.supabase, "functions", "deploy", "clerk-events"]
    .concat(flags);
}

if (import.meta.main) {
  try {
    const build = await buildFunction();
    console.error(`Built ${build.files.length} files, ${(build.bytes / 1e6).toFixed(2)} MB`);
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    Deno.exit(1);
  }
  const { code } = await new Deno.Command(Deno.execPath(), {
    args: deployArgs(Deno.args),
    cwd: REPO_ROOT,
  }).spawn().status;
  Deno.exit(code);
}
