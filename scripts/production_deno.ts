/**
 * The Deno that hosted Supabase Edge Functions run, on this machine.
 *
 * Supabase's edge runtime is Deno 2.1 (supabase/cli#4065 made
 * `deno_version = 2` the default once hosting moved to 2.1, and
 * supabase/edge-runtime#713 says no upgrade is planned), while development
 * uses Deno 2.9. Code that needs the newer runtime would pass every test on
 * 2.9 and fail only in production, so the built artifact is also run and
 * measured on 2.1 (`tests/production_runtime_test.ts`, `deno task bench`).
 *
 * `deno task production-deno` installs it (the npm package `deno@2.1.4`,
 * whose binary ships inside it) into `.tools/`, git-ignored, and prints its
 * path. The tests and the bench install it the same way on first use.
 * `PRODUCTION_DENO` names another binary of that version instead.
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The Deno version hosted Supabase runs. */
export const PRODUCTION_DENO_VERSION = "2.1.4";
/**
 * What the artifact's syntax may use, as an esbuild target: Deno 2.1.4 embeds
 * V8 13.0, the engine of Chrome 130. (esbuild's own `deno2.1` target is not
 * usable: its Deno data lacks dynamic `import()`, which it then rewrites to
 * `require`, undoing the lazy loading.)
 */
export const PRODUCTION_TARGET = "chrome130";

const REPO_ROOT = fileURLToPath(new URL("../", import.meta.url));
/** Where it is installed: `.tools/deno-<version>/`, git-ignored. */
export const PRODUCTION_DENO_DIR = join(REPO_ROOT, ".tools", `deno-${PRODUCTION_DENO_VERSION}`);
const INSTALL_TIMEOUT_MS = 5 * 60_000;

/**
 * The binary inside the npm package: its postinstall script links it to
 * `node_modules/deno/deno`, and it ships in the platform package
 * (`@deno/linux-x64-glibc`) whether or not scripts ran. Never
 * `node_modules/.bin/deno`: that is a node wrapper, and a signal sent to it
 * leaves the real process running.
 */
function binaryCandidates(dir: string): string[] {
  const platform = `${Deno.build.os === "darwin" ? "darwin" : "linux"}-${
    Deno.build.arch === "aarch64" ? "arm64" : "x64"
  }${Deno.build.os === "linux" ? "-glibc" : ""}`;
  return [
    join(dir, "node_modules", "deno", "deno"),
    join(dir, "node_modules", "@deno", platform, "deno"),
  ];
}

/** The version a Deno binary reports, or undefined when it does not run. */
export async function denoVersionOf(binary: string): Promise<string | undefined> {
  try {
    const output = await new Deno.Command(binary, {
      args: ["--version"],
      stdout: "piped",
      stderr: "null",
    }).output();
    return new TextDecoder().decode(output.stdout).match(/^deno (\S+)/)?.[1];
  } catch {
    return undefined;
  }
}

/** The installed binary of {@link PRODUCTION_DENO_VERSION}, or undefined. */
export async function findProductionDeno(): Promise<string | undefined> {
  const named = Deno.env.get("PRODUCTION_DENO");
  if (named) {
    const version = await denoVersionOf(named);
    if (version !== PRODUCTION_DENO_VERSION) {
      throw new Error(
        `Cannot use PRODUCTION_DENO=${named}: it reports Deno ${version ?? "nothing"}, ` +
          `not ${PRODUCTION_DENO_VERSION}`,
      );
    }
    return named;
  }
  for (const candidate of binaryCandidates(PRODUCTION_DENO_DIR)) {
    if (await denoVersionOf(candidate) === PRODUCTION_DENO_VERSION) return candidate;
  }
  return undefined;
}

/**
 * The binary of {@link PRODUCTION_DENO_VERSION}, installed with npm into
 * {@link PRODUCTION_DENO_DIR} when missing (into a temporary folder first,
 * then renamed, so that an interrupted install leaves nothing half done).
 */
export async function ensureProductionDeno(
  progress: (line: string) => void = () => {},
): Promise<string> {
  const found = await findProductionDeno();
  if (found) return found;
  progress(`Installing Deno ${PRODUCTION_DENO_VERSION} (what Supabase runs) with npm`);
  await Deno.mkdir(join(PRODUCTION_DENO_DIR, ".."), { recursive: true });
  const partial = `${PRODUCTION_DENO_DIR}.partial-${Deno.pid}`;
  try {
    const child = new Deno.Command("npm", {
      args: [
        "install",
        "--prefix",
        partial,
        "--no-save",
        "--no-audit",
        "--no-fund",
        "--loglevel=error",
        `deno@${PRODUCTION_DENO_VERSION}`,
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const timer = setTimeout(() => child.kill("SIGKILL"), INSTALL_TIMEOUT_MS);
    const output = await child.output().finally(() => clearTimeout(timer));
    if (!output.success) {
      const text = new TextDecoder().decode(output.stderr).trim().split("\n").slice(-5);
      throw new Error(`npm install deno@${PRODUCTION_DENO_VERSION} failed: ${text.join(" / ")}`);
    }
    await Deno.rename(partial, PRODUCTION_DENO_DIR).catch(async (error) => {
      // Another process installed it meanwhile: keep theirs.
      if (!(await findProductionDeno())) throw error;
    });
  } catch (error) {
    const reason = error instanceof Deno.errors.NotFound
      ? "npm is not installed (it comes with Node.js)"
      : error instanceof Error
      ? error.message
      : String(error);
    throw new Error(`Cannot install Deno ${PRODUCTION_DENO_VERSION}: ${reason}`);
  } finally {
    await Deno.remove(partial, { recursive: true }).catch(() => {});
  }
  const installed = await findProductionDeno();
  if (!installed) {
    throw new Error(
      `Cannot install Deno ${PRODUCTION_DENO_VERSION}: npm installed it, but no binary in ` +
        `${PRODUCTION_DENO_DIR} reports that version`,
    );
  }
  return installed;
}

/**
 * The environment a Deno 2.1 process needs besides the app's settings:
 * `DENO_CERT`, the system's CA bundle (2.1 does not read `SSL_CERT_FILE`
 * and cannot reach the npm registry without it here), and a cache of its
 * own, so that it never reads or writes the caches of the Deno in PATH.
 */
export function productionDenoEnv(): Record<string, string> {
  const caFile = Deno.env.get("SSL_CERT_FILE") ?? "/etc/ssl/certs/ca-certificates.crt";
  return {
    DENO_DIR: join(PRODUCTION_DENO_DIR, "cache"),
    ...(existsSync(caFile) ? { DENO_CERT: caFile } : {}),
  };
}

function existsSync(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

if (import.meta.main) {
  try {
    const binary = await ensureProductionDeno((line) => console.error(line));
    console.error(`Deno ${PRODUCTION_DENO_VERSION}, as hosted Supabase runs it:`);
    console.log(binary);
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    Deno.exit(1);
  }
}
