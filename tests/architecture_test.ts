/**
 * The layout promises that a reader relies on: the tree shows the
 * architecture, the deployed module graph holds no developer tool, no
 * module of the core is part of an import cycle, and the code knows every
 * migration it needs.
 */
import assert from "node:assert/strict";
import { MIGRATIONS } from "../functions/database/migrations.ts";
import { DEVELOPMENT_ONLY_PACKAGES } from "../functions/health/versions.ts";

const ROOT = new URL("../", import.meta.url);
const path = (relative: string) => new URL(relative, ROOT).pathname;

/** Every `.ts` file below `dir`, relative to the repository root. */
async function tsFiles(dir: string): Promise<string[]> {
  const found: string[] = [];
  for await (const entry of Deno.readDir(path(dir))) {
    const child = `${dir}/${entry.name}`;
    if (entry.isDirectory) found.push(...await tsFiles(child));
    else if (entry.name.endsWith(".ts")) found.push(child);
  }
  return found.sort();
}

/** The relative `.ts` modules `file` imports: static, dynamic and type-only. */
async function relativeImports(file: string): Promise<string[]> {
  const source = await Deno.readTextFile(path(file));
  const specifiers = [...source.matchAll(/(?:from|import)\s*\(?\s*["'](\.{1,2}\/[^"']+\.ts)["']/g)]
    .map((match) => match[1]);
  const dir = file.slice(0, file.lastIndexOf("/"));
  return specifiers.map((specifier) => new URL(specifier, `file:///${dir}/`).pathname.slice(1));
}

Deno.test("functions/ holds at most three loose files; the rest live in folders named by role", async () => {
  const loose: string[] = [];
  for await (const entry of Deno.readDir(path("functions"))) {
    if (entry.isFile) loose.push(entry.name);
  }
  assert.ok(loose.length <= 3, `Loose files in functions/: ${loose.sort().join(", ")}`);
});

Deno.test("no module of functions/ is part of an import cycle", async () => {
  const files = await tsFiles("functions");
  const graph = new Map<string, string[]>();
  for (const file of files) graph.set(file, await relativeImports(file));
  const cycles: string[] = [];
  const state = new Map<string, "visiting" | "done">();
  const visit = (file: string, trail: string[]) => {
    if (state.get(file) === "done") return;
    if (state.get(file) === "visiting") {
      cycles.push([...trail.slice(trail.indexOf(file)), file].join(" -> "));
      return;
    }
    state.set(file, "visiting");
    for (const next of graph.get(file) ?? []) visit(next, [...trail, file]);
    state.set(file, "done");
  };
  for (const file of files) visit(file, []);
  assert.deepEqual(cycles, [], `Import cycles:\n${cycles.join("\n")}`);
});

Deno.test("the deployed entrypoint's module graph holds no developer tool", async () => {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", "supabase/functions/clerk-events/index.ts"],
    cwd: path("."),
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(output.success, new TextDecoder().decode(output.stderr));
  const info = JSON.parse(new TextDecoder().decode(output.stdout)) as {
    modules: { specifier: string; npmPackage?: string }[];
  };
  const local = info.modules.map((module) => module.specifier)
    .filter((specifier) => specifier.startsWith("file://"))
    .map((specifier) => specifier.slice(new URL(ROOT).href.length));
  assert.ok(
    local.some((file) => file === "functions/app.ts"),
    "the graph reaches functions/app.ts",
  );
  const tools = local.filter((file) =>
    !file.startsWith("functions/") && !file.startsWith("supabase/")
  )
    .filter((file) => file !== "import_map.json");
  assert.deepEqual(tools, [], "modules outside functions/ in the deployed graph");
  const packages = info.modules.flatMap((module) => module.npmPackage ? [module.npmPackage] : []);
  assert.ok(packages.some((id) => id.startsWith("inngest@")), "the graph reaches npm packages");
  for (const name of DEVELOPMENT_ONLY_PACKAGES) {
    assert.ok(
      !packages.some((id) => id.startsWith(`${name}@`)),
      `development-only package ${name} in the deployed graph`,
    );
  }
});

Deno.test("the code lists every migration in supabase/migrations, and each records itself", async () => {
  const files: string[] = [];
  for await (const entry of Deno.readDir(path("supabase/migrations"))) {
    if (entry.name.endsWith(".sql")) files.push(entry.name.replace(/\.sql$/, ""));
  }
  assert.deepEqual([...MIGRATIONS], files.sort());
  const firstRecorded = MIGRATIONS.indexOf("20261202090000_schema_version");
  for (const name of MIGRATIONS.slice(firstRecorded)) {
    const sql = await Deno.readTextFile(path(`supabase/migrations/${name}.sql`));
    assert.match(
      sql,
      new RegExp(`insert into public\\.clerk_events_migrations[^;]*'${name}'`),
      `${name}.sql does not record itself in public.clerk_events_migrations`,
    );
  }
});
