/**
 * What is deployed, for the benchmarks: the function as `deno task build`
 * writes it, the peer bundled the same way (what Supabase would hold for a
 * user's own function), and the Deno that hosted Supabase runs (2.1.4).
 */
import { join } from "node:path";
import { buildFunction } from "../../scripts/build.ts";
import {
  ensureProductionDeno,
  PRODUCTION_DENO_VERSION,
  productionDenoEnv,
} from "../../scripts/production_deno.ts";

/** The built entries and the runtime to run them on. */
export interface BenchArtifacts {
  /** The function's artifact, `index.js`. */
  readonly ours: string;
  /** `servers/peer.ts`, built the same way. */
  readonly peer: string;
  /** The production Deno's binary, and what it needs in its environment. */
  readonly production: { readonly deno: string; readonly env: Record<string, string> };
  readonly productionVersion: string;
  /** Removes the built files. */
  remove(): Promise<void>;
}

/** Builds both artifacts into a temporary directory, and installs Deno 2.1.4 if missing. */
export async function buildBenchArtifacts(
  progress: (line: string) => void,
): Promise<BenchArtifacts> {
  const dir = await Deno.makeTempDir({ prefix: "clerk_events_bench_artifacts_" });
  try {
    const ours = await buildFunction(join(dir, "ours"));
    const peer = await buildFunction(
      join(dir, "peer"),
      new URL("servers/peer.ts", import.meta.url).pathname,
    );
    const deno = await ensureProductionDeno(progress);
    progress(
      `built the artifact (${(ours.bytes / 1e6).toFixed(2)} MB) and the peer's ` +
        `(${(peer.bytes / 1e6).toFixed(2)} MB); Deno ${PRODUCTION_DENO_VERSION} at ${deno}`,
    );
    return {
      ours: ours.entry,
      peer: peer.entry,
      production: { deno, env: productionDenoEnv() },
      productionVersion: PRODUCTION_DENO_VERSION,
      remove: () => Deno.remove(dir, { recursive: true }),
    };
  } catch (error) {
    await Deno.remove(dir, { recursive: true });
    throw error;
  }
}
