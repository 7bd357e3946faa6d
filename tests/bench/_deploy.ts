/**
 * Benchmark 6: the deploy. What Supabase would hold on each of its bundling
 * paths, for the built artifact (`deno task build`, what `deno task deploy`
 * deploys) and for today's entrypoint deployed from source, each against the
 * path's limit; and the cold start of the artifact against today's entrypoint.
 *
 * - Without Docker (`--use-api`, and the CLI's fallback), the real pinned CLI
 *   deploys to the Management API stand-in and the upload is measured; Supabase
 *   then bundles the uploaded files with every npm package they reach, and
 *   that bundle must fit in 5 MB. For the artifact that bundle is the artifact
 *   itself (measured); from source it is estimated as the source plus every
 *   reachable npm package folder, whole.
 * - With Docker, the CLI bundles locally the same way and uploads the bundle
 *   brotli-compressed, against 20 MB. Docker is not run here: both figures are
 *   estimates, the same files brotli-compressed.
 *
 * The cold starts alternate three processes: the artifact and today's
 * entrypoint on the Deno running the bench (2.9), and the artifact on the
 * Deno hosted Supabase runs (2.1).
 */
import { join } from "node:path";
import { brotliCompressSync, constants } from "node:zlib";
import { buildFunction, REPO_ROOT, SOURCE_ENTRYPOINT } from "../../scripts/build.ts";
import { clerkPayload, signHeaders } from "../support/clerk.ts";
import { testEnv } from "../support/env.ts";
import { entrypointArgs } from "../support/artifact_server.ts";
import { freePort } from "../support/process.ts";
import {
  deployWithCli,
  type ManagementApi,
  startManagementApi,
} from "../support/management_api.ts";
import { median } from "./_load.ts";
import { reachableNpmPackages } from "./_module_graph.ts";
import type { BenchArtifacts } from "./_artifacts.ts";
import { waitUntilAnswering } from "./_process.ts";
import { compare, num, type Row } from "./_report.ts";

/** How the deploy benchmark runs. */
export interface DeployOptions {
  readonly eventApiUrl: string;
  /** The production Deno the artifact's cold start is also measured on. */
  readonly artifacts: BenchArtifacts;
  /** Deploys per path, and cold starts per entrypoint. */
  readonly rounds: number;
  readonly progress: (line: string) => void;
}

const MB = 1_000_000;
const API_LIMIT_MB = 5;
const DOCKER_LIMIT_MB = 20;
const BROTLI_QUALITY = 9;
// Today's function, as supabase/config.toml deployed it before the artifact.
const SOURCE_CONFIG = `project_id = "clerk-events"
[functions.clerk-events]
verify_jwt = false
import_map = "../import_map.json"
entrypoint = "./functions/clerk-events/index.ts"
`;

/** Runs benchmark 6 and returns its rows. */
export async function deployBenchmark(options: DeployOptions): Promise<Row[]> {
  const work = await Deno.makeTempDir({ prefix: "clerk_events_deploy_bench_" });
  try {
    const artifactDir = join(work, "artifact");
    const sourceDir = join(work, "source");
    const build = await buildFunction(join(artifactDir, "supabase/functions/clerk-events/dist"));
    await Deno.copyFile(
      join(REPO_ROOT, "supabase/config.toml"),
      join(artifactDir, "supabase/config.toml"),
    );
    await copySource(sourceDir);

    options.progress("6: deploy sizes");
    const artifactFiles = build.files.map((file) => join(build.outDir, file));
    const packageDirs = await packageFolders(await reachableNpmPackages(SOURCE_ENTRYPOINT));
    const sourceFiles = [...await filesUnder(join(sourceDir, "functions")), SOURCE_ENTRYPOINT];
    const artifactBytes = await totalBytes(artifactFiles);
    const sourceBundleBytes = await totalBytes(sourceFiles) +
      await totalBytes((await Promise.all(packageDirs.map(filesUnder))).flat());
    options.progress(`6: brotli of ${packageDirs.length} package folders (slow)`);
    const artifactBrotli = await brotliBytes(artifactFiles);
    const sourceBrotli = await brotliBytes([
      ...sourceFiles,
      ...(await Promise.all(packageDirs.map(filesUnder))).flat(),
    ]);

    const rows: Row[] = [];
    const api = await startManagementApi();
    if ("busy" in api) {
      rows.push(info("6. Upload without Docker (--use-api), MB", `not measured: ${api.busy}`));
    } else {
      try {
        const uploads = async (dir: string) => {
          const sizes: number[] = [];
          for (let round = 0; round < options.rounds; round++) {
            sizes.push(await uploadBytes(api, dir));
          }
          return sizes;
        };
        const ours = await uploads(artifactDir);
        const today = await uploads(sourceDir);
        options.progress(
          `6: uploads ${ours.join(", ")} B (artifact); ${today.join(", ")} B (source)`,
        );
        rows.push({
          figure: "6. Upload without Docker (--use-api), MB, measured",
          ours: spread(ours.map((b) => b / MB), 3),
          baseline: `${spread(today.map((b) => b / MB), 3)} (today's entrypoint, source files)`,
          ratio: ratio(median(ours), median(today)),
          target: "information (Supabase bundles it on its side)",
        });
      } finally {
        await api.close();
      }
    }
    rows.push(
      sizeRow(
        "6. Bundle Supabase holds without Docker, MB",
        `${mb(artifactBytes)} (measured: the artifact)`,
        `${
          mb(sourceBundleBytes)
        } (today's entrypoint; estimate: source + ${packageDirs.length} npm package folders, whole)`,
        artifactBytes,
        sourceBundleBytes,
        API_LIMIT_MB,
      ),
      sizeRow(
        "6. Upload with Docker (brotli), MB",
        `${mb(artifactBrotli)} (estimate: the artifact, brotli q${BROTLI_QUALITY})`,
        `${
          mb(sourceBrotli)
        } (today's entrypoint; estimate: the same files, brotli q${BROTLI_QUALITY})`,
        artifactBrotli,
        sourceBrotli,
        DOCKER_LIMIT_MB,
      ),
    );

    options.progress("6: cold start, artifact against today's entrypoint");
    rows.push(...await coldStartRows(build.entry, options));
    return rows;
  } finally {
    await Deno.remove(work, { recursive: true });
  }
}

/**
 * Cold start to the first 2xx on a signed webhook, alternating the artifact
 * and today's entrypoint on this Deno, and the artifact on the production one.
 */
async function coldStartRows(artifactEntry: string, options: DeployOptions): Promise<Row[]> {
  const body = JSON.stringify(clerkPayload("user.created"));
  const headers = { "content-type": "application/json", ...signHeaders(body) };
  const env = Object.fromEntries(
    Object.entries(testEnv({ INNGEST_EVENT_API_BASE_URL: options.eventApiUrl }))
      .filter((entry): entry is [string, string] => entry[1] !== undefined),
  );
  const { production, productionVersion } = options.artifacts;
  const entries = {
    artifact: { deno: Deno.execPath(), args: entrypointArgs(artifactEntry), env: {} },
    today: {
      deno: Deno.execPath(),
      args: entrypointArgs(SOURCE_ENTRYPOINT, join(REPO_ROOT, "deno.json")),
      env: {},
    },
    production: { deno: production.deno, args: entrypointArgs(artifactEntry), env: production.env },
  };
  type Name = keyof typeof entries;
  const once = async (name: Name): Promise<number> => {
    const port = freePort();
    const since = performance.now();
    const child = new Deno.Command(entries[name].deno, {
      args: entries[name].args,
      cwd: REPO_ROOT,
      env: { ...env, ...entries[name].env, PORT: String(port) },
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    try {
      const url = `http://127.0.0.1:${port}/clerk-events/webhook`;
      return await waitUntilAnswering(() => fetch(url, { method: "POST", headers, body }), since);
    } finally {
      child.kill("SIGKILL");
      await child.status;
    }
  };
  const names: Name[] = ["artifact", "today", "production"];
  // One untimed start each, so that all find their Deno's caches warm.
  for (const name of names) await once(name);
  const times: Record<Name, number[]> = { artifact: [], today: [], production: [] };
  for (let round = 0; round < options.rounds; round++) {
    const order = names.map((_, i) => names[(i + round) % names.length]);
    for (const name of order) times[name].push(await once(name));
    options.progress(
      `6: cold start round ${round + 1}: artifact ${times.artifact.at(-1)!.toFixed(0)} ms, ` +
        `today ${times.today.at(-1)!.toFixed(0)} ms, artifact on Deno ${productionVersion} ` +
        `${times.production.at(-1)!.toFixed(0)} ms`,
    );
  }
  return [
    compare(
      `6. Cold start to first 2xx, deployed artifact vs today's entrypoint, ms (${options.rounds} runs, Deno ${Deno.version.deno})`,
      times.artifact,
      times.today,
      num(),
      undefined,
      "today's entrypoint, from source",
    ),
    compare(
      `6. Cold start to first 2xx of the artifact, Deno ${productionVersion} vs ${Deno.version.deno}, ms (${options.rounds} runs)`,
      times.production,
      times.artifact,
      num(),
      undefined,
      `the artifact on Deno ${Deno.version.deno}`,
    ),
  ];
}

/** Deploys the project in `dir` with `--use-api`; returns the multipart body's size. */
async function uploadBytes(api: ManagementApi, dir: string): Promise<number> {
  const before = api.deploys.length;
  const run = await deployWithCli(dir, ["--use-api"]);
  if (!run.success || api.deploys.length !== before + 1) {
    throw new Error(`Cannot deploy ${dir} to the stand-in: ${run.output}`);
  }
  return api.deploys[before].requestBytes;
}

/** Copies today's source layout (functions/, the entrypoint, the import map) into `dir`. */
async function copySource(dir: string): Promise<void> {
  for (const file of await filesUnder(join(REPO_ROOT, "functions"))) {
    const target = join(dir, file.slice(REPO_ROOT.length));
    await Deno.mkdir(join(target, ".."), { recursive: true });
    await Deno.copyFile(file, target);
  }
  await Deno.mkdir(join(dir, "supabase/functions/clerk-events"), { recursive: true });
  await Deno.copyFile(SOURCE_ENTRYPOINT, join(dir, "supabase/functions/clerk-events/index.ts"));
  await Deno.copyFile(join(REPO_ROOT, "import_map.json"), join(dir, "import_map.json"));
  await Deno.writeTextFile(join(dir, "supabase/config.toml"), SOURCE_CONFIG);
}

/** The cache folder of each npm package id (`name@version[_peers]`). */
async function packageFolders(ids: string[]): Promise<string[]> {
  const output = await new Deno.Command(Deno.execPath(), { args: ["info", "--json"] }).output();
  const { npmCache } = JSON.parse(new TextDecoder().decode(output.stdout)) as { npmCache: string };
  return ids.map((id) => {
    const at = id.indexOf("@", 1);
    return join(npmCache, "registry.npmjs.org", id.slice(0, at), id.slice(at + 1).split("_")[0]);
  });
}

async function filesUnder(dir: string): Promise<string[]> {
  const files: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) files.push(...await filesUnder(path));
    else if (entry.isFile) files.push(path);
  }
  return files;
}

async function totalBytes(files: string[]): Promise<number> {
  let sum = 0;
  for (const file of files) sum += (await Deno.stat(file)).size;
  return sum;
}

/** Size of the files concatenated and brotli-compressed. */
async function brotliBytes(files: string[]): Promise<number> {
  const parts = await Promise.all(files.map((file) => Deno.readFile(file)));
  const all = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    all.set(part, offset);
    offset += part.length;
  }
  const params = { [constants.BROTLI_PARAM_QUALITY]: BROTLI_QUALITY };
  return brotliCompressSync(all, { params }).length;
}

function sizeRow(
  figure: string,
  ours: string,
  baseline: string,
  oursBytes: number,
  baselineBytes: number,
  limitMb: number,
): Row {
  const fits = (bytes: number) => bytes / MB <= limitMb;
  return {
    figure: `${figure} (limit ${limitMb} MB)`,
    ours,
    baseline,
    ratio: ratio(oursBytes, baselineBytes),
    target: `≤ ${limitMb} MB: ${fits(oursBytes) ? "met" : "**missed**"} (today's: ${
      fits(baselineBytes) ? "fits" : "over"
    })`,
    met: fits(oursBytes),
  };
}

function info(figure: string, text: string): Row {
  return { figure, ours: text, baseline: "", ratio: "n/a", target: "information" };
}

/** `median [min–max]` of `values`. */
function spread(values: number[], digits: number): string {
  const f = (value: number) => value.toFixed(digits);
  return `${f(median(values))} [${f(Math.min(...values))}–${f(Math.max(...values))}]`;
}

function mb(bytes: number): string {
  return (bytes / MB).toFixed(2);
}

function ratio(ours: number, baseline: number): string {
  return `${(ours / baseline).toFixed(2)}x`;
}
