/**
 * `deno task build`: bundles the function into the artifact that Supabase
 * deploys, `supabase/functions/clerk-events/dist/` (the entrypoint that
 * `supabase/config.toml` names).
 *
 * Why: Supabase's bundlers copy every npm package folder the entrypoint
 * reaches into the function's bundle, whole (about 88 MB here), which is over
 * the 5 MB limit of the bundling Supabase does on its side (the path without
 * Docker). `deno bundle` keeps only the code that is used, and with code
 * splitting each lazy `import()` (supabase-js, resend, the Inngest serve
 * handler) stays a separate file that is loaded when first needed, so the
 * webhook path's cold start does not pay for them.
 *
 * The artifact's syntax targets the runtime Supabase hosts, Deno 2.1
 * (`scripts/production_deno.ts`): `deno bundle` leaves modern syntax as it
 * is (its esbuild targets `esnext`), so each file is then lowered by esbuild
 * to the V8 of Deno 2.1 (`PRODUCTION_TARGET`), which rewrites what 2.1
 * cannot parse (a `using` declaration, for example) or fails the build. APIs cannot be
 * lowered: `tests/production_runtime_test.ts` runs the artifact on Deno 2.1.4
 * to catch a call that 2.1 lacks.
 *
 * The artifact imports nothing but its own files and `node:` built-ins, so
 * neither bundler has anything left to fetch. An optional dependency that a
 * package loads with `import()` only on a path this function never takes
 * (resend's React renderer) becomes a rejected promise saying so; any other
 * import the bundle leaves unresolved fails the build.
 */
import { basename, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";
import { PRODUCTION_DENO_VERSION, PRODUCTION_TARGET } from "./production_deno.ts";

/** What a build wrote. */
export interface BuildResult {
  /** The directory of the artifact. */
  readonly outDir: string;
  /** The artifact's entry file, inside `outDir`. */
  readonly entry: string;
  /** Every file of the artifact, relative to `outDir`, sorted. */
  readonly files: string[];
  /** Their total size in bytes. */
  readonly bytes: number;
}

/** The repository root. */
export const REPO_ROOT = fileURLToPath(new URL("../", import.meta.url));
/** The source entrypoint the artifact is built from. */
export const SOURCE_ENTRYPOINT = join(REPO_ROOT, "supabase/functions/clerk-events/index.ts");
/** Where `deno task build` writes the artifact (named in supabase/config.toml). */
export const DEFAULT_OUT_DIR = join(REPO_ROOT, "supabase/functions/clerk-events/dist");

// Imported with `import()` by a dependency, on a path this function never takes.
const UNUSED_OPTIONAL_IMPORTS = new Set(["@react-email/render"]);

/**
 * Bundles the function (or another `entrypoint`: the benchmarks build their
 * baseline the same way) into `outDir`, replacing what was there.
 */
export async function buildFunction(
  outDir = DEFAULT_OUT_DIR,
  entrypoint = SOURCE_ENTRYPOINT,
): Promise<BuildResult> {
  await Deno.remove(outDir, { recursive: true }).catch((error) => {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  });
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "bundle",
      "--quiet",
      "--platform=deno",
      "--code-splitting",
      // Not minified: --minify renames classes (SDKs read error names), and
      // --minify --keep-names makes deno bundle 2.9.6 drop the createRequire
      // shim that the packages' require("node:…") calls need.
      "--outdir",
      outDir,
      entrypoint,
    ],
    cwd: REPO_ROOT,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!output.success) {
    const text = new TextDecoder().decode(output.stderr).trim();
    throw new Error(`Cannot build the function: deno bundle failed: ${text}`);
  }

  const files: string[] = [];
  let bytes = 0;
  try {
    for await (const path of walk(outDir)) {
      const file = relative(outDir, path);
      const text = await Deno.readTextFile(path);
      const lowered = await lowerToProductionTarget(closeUnresolvedImports(text, file), file);
      if (lowered !== text) await Deno.writeTextFile(path, lowered);
      files.push(file);
      bytes += new TextEncoder().encode(lowered).length;
    }
  } finally {
    await stopLowering();
  }
  files.sort();
  const entry = join(outDir, `${basename(entrypoint).replace(/\.[cm]?[jt]sx?$/, "")}.js`);
  return { outDir, entry, files, bytes };
}

/** Stops the esbuild process that {@link lowerToProductionTarget} started. */
function stopLowering(): Promise<void> {
  return esbuild.stop();
}

/**
 * `code` with its syntax lowered to what {@link PRODUCTION_TARGET} parses;
 * throws when esbuild cannot lower something (it names the construct).
 * Call {@link stopLowering} when done.
 */
async function lowerToProductionTarget(code: string, file: string): Promise<string> {
  try {
    const result = await esbuild.transform(code, {
      loader: "js",
      format: "esm",
      target: PRODUCTION_TARGET,
      sourcefile: file,
      // Keep the code as bundled: no renaming (SDKs read class names), no minifying.
      minify: false,
      keepNames: false,
      logLevel: "silent",
    });
    return result.code;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(
      `Cannot build the function: ${file} uses syntax that Deno ${PRODUCTION_DENO_VERSION} ` +
        `cannot run (target ${PRODUCTION_TARGET}): ${reason}`,
    );
  }
}

// A static import at the start of a statement: `import x from "…"`, `import{…}from"…"`, `import "…"`.
const STATIC_IMPORT = /(?:^|[;}])\s*import\s*(?:[\w$*{}\s,]+?\s*from\s*)?["']([^"']+)["']/g;
const DYNAMIC_IMPORT = /\bimport\(\s*["']([^"']+)["']\s*\)/g;

/** The specifiers of the static and the dynamic (literal) imports in bundled code. */
export function importSpecifiers(code: string): { static: string[]; dynamic: string[] } {
  return {
    static: [...code.matchAll(STATIC_IMPORT)].map((match) => match[1]),
    dynamic: [...code.matchAll(DYNAMIC_IMPORT)].map((match) => match[1]),
  };
}

/**
 * Replaces `import("<optional package>")` with a rejected promise, and fails
 * on any other import that is neither a file of the bundle nor a built-in.
 */
export function closeUnresolvedImports(code: string, file: string): string {
  const bundled = (specifier: string) =>
    specifier.startsWith("./") || specifier.startsWith("node:");
  for (const specifier of importSpecifiers(code).static) {
    if (!bundled(specifier)) {
      throw new Error(`Cannot build the function: ${file} imports "${specifier}" unbundled`);
    }
  }
  return code.replace(DYNAMIC_IMPORT, (call, specifier: string) => {
    if (bundled(specifier)) return call;
    if (!UNUSED_OPTIONAL_IMPORTS.has(specifier)) {
      throw new Error(`Cannot build the function: ${file} imports "${specifier}" unbundled`);
    }
    return `Promise.reject(new Error(${
      JSON.stringify(`Cannot import "${specifier}": it is not part of the clerk-events bundle`)
    }))`;
  });
}

async function* walk(dir: string): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) yield* walk(path);
    else if (entry.isFile) yield path;
  }
}

if (import.meta.main) {
  try {
    const started = performance.now();
    const result = await buildFunction(Deno.args[0] ?? DEFAULT_OUT_DIR);
    const ms = Math.round(performance.now() - started);
    console.error(
      `Built ${relative(REPO_ROOT, result.entry)}: ${result.files.length} files, ` +
        `${(result.bytes / 1e6).toFixed(2)} MB, in ${ms} ms`,
    );
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    Deno.exit(1);
  }
}
