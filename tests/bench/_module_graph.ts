/**
 * Part of benchmark 3: the module graph of the app's server (from
 * `deno info --json`) and whether supabase-js or resend is on the webhook
 * path, that is, reachable through static imports.
 */
import { REPO_ROOT } from "./_process.ts";
import type { Row } from "./_report.ts";

interface InfoDependency {
  code?: { specifier: string };
  isDynamic?: boolean;
}

interface InfoModule {
  kind: string;
  specifier: string;
  size?: number;
  npmPackage?: string;
  dependencies?: InfoDependency[];
}

interface Info {
  roots: string[];
  modules: InfoModule[];
  redirects: Record<string, string>;
  npmPackages: Record<string, { dependencies: string[] }>;
}

/** A module graph, whole and as loaded by static imports only. */
export interface GraphSummary {
  readonly localModules: number;
  readonly localBytes: number;
  readonly npmPackages: number;
  readonly staticLocalModules: number;
  readonly staticNpmPackages: string[];
  readonly allNpmPackages: string[];
}

/** Summarises the graph of `tests/bench/servers/<name>.ts`. */
export async function moduleGraph(name: string): Promise<GraphSummary> {
  const info = await denoInfo(new URL(`servers/${name}.ts`, import.meta.url).pathname);
  const modules = new Map(info.modules.map((m) => [m.specifier, m]));
  const resolve = (specifier: string) => modules.get(info.redirects[specifier] ?? specifier);

  // Follow static imports from the root; dynamic imports wait for a workflow.
  const seen = new Set<string>();
  const roots = new Set<string>();
  const stack = info.roots.map((root) => resolve(root)).filter((m) => m !== undefined);
  while (stack.length) {
    const module = stack.pop()!;
    if (seen.has(module.specifier)) continue;
    seen.add(module.specifier);
    if (module.npmPackage) roots.add(module.npmPackage);
    for (const dep of module.dependencies ?? []) {
      const next = dep.code && !dep.isDynamic ? resolve(dep.code.specifier) : undefined;
      if (next) stack.push(next);
    }
  }
  const packages = new Set<string>();
  const pending = [...roots];
  while (pending.length) {
    const id = pending.pop()!;
    if (packages.has(id)) continue;
    packages.add(id);
    pending.push(...(info.npmPackages[id]?.dependencies ?? []));
  }
  const local = info.modules.filter((m) => m.kind === "esm" || m.kind === "asserted");
  return {
    localModules: local.length,
    localBytes: local.reduce((sum, m) => sum + (m.size ?? 0), 0),
    npmPackages: Object.keys(info.npmPackages).length,
    staticLocalModules: local.filter((m) => seen.has(m.specifier)).length,
    staticNpmPackages: [...packages].sort(),
    allNpmPackages: Object.keys(info.npmPackages),
  };
}

/** `deno info --json` of `script`, with the repo's deno.json. */
async function denoInfo(script: string): Promise<Info> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", "--config", new URL("deno.json", REPO_ROOT).pathname, script],
    cwd: REPO_ROOT.pathname,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!output.success) {
    throw new Error(`Cannot run deno info: ${new TextDecoder().decode(output.stderr)}`);
  }
  return JSON.parse(new TextDecoder().decode(output.stdout)) as Info;
}

/**
 * Every npm package `script` reaches, through static and dynamic imports and
 * the packages' own dependencies: what Supabase's bundlers copy whole.
 */
export async function reachableNpmPackages(script: string): Promise<string[]> {
  const info = await denoInfo(script);
  const pending = info.modules.flatMap((m) => m.npmPackage ? [m.npmPackage] : []);
  const packages = new Set<string>();
  while (pending.length) {
    const id = pending.pop()!;
    if (packages.has(id)) continue;
    packages.add(id);
    pending.push(...(info.npmPackages[id]?.dependencies ?? []));
  }
  return [...packages].sort();
}

/** Rows for the module graph of the app against the floor. */
export async function moduleGraphRows(): Promise<Row[]> {
  const [ours, floor] = await Promise.all([moduleGraph("ours"), moduleGraph("floor")]);
  const describe = (g: GraphSummary) =>
    `${g.localModules} modules (${(g.localBytes / 1024).toFixed(0)} KB), ` +
    `${g.npmPackages} npm packages; static: ${g.staticLocalModules} modules, ` +
    `${g.staticNpmPackages.length} npm packages`;
  const onPath = (g: GraphSummary, prefix: string) =>
    g.staticNpmPackages.some((id) => id.startsWith(prefix))
      ? "**yes**"
      : g.allNpmPackages.some((id) => id.startsWith(prefix))
      ? "no (dynamic import only)"
      : "no (not in the graph)";
  return [
    {
      figure: "3. Module graph (`deno info`)",
      ours: describe(ours),
      baseline: `${describe(floor)} (floor)`,
      ratio: `${(ours.staticNpmPackages.length / floor.staticNpmPackages.length).toFixed(2)}x`,
      target: "information",
    },
    {
      figure: "3. supabase-js / resend on the webhook path",
      ours: `supabase-js: ${onPath(ours, "@supabase/")}; resend: ${onPath(ours, "resend@")}`,
      baseline: "no / no (floor)",
      ratio: "n/a",
      target: "information (should be no / no)",
    },
  ];
}
