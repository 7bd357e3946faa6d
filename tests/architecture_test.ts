/**
 * The layout promises that a reader relies on: the tree shows the
 * architecture (shared rooms, one folder per feature with the same shape,
 * and the composition root), dependencies point one way between folders,
 * the deployed module graph holds no developer tool, and the code knows
 * every migration it needs.
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

/** One import of a module: what it names, and whether only types. */
interface Import {
  readonly target: string;
  readonly typeOnly: boolean;
}

/** The relative `.ts` modules `file` imports: static, dynamic and type-only. */
async function imports(file: string): Promise<Import[]> {
  const source = await Deno.readTextFile(path(file));
  const dir = file.slice(0, file.lastIndexOf("/"));
  return [
    ...source.matchAll(
      /(import\s+type\b[^;]*?from|from|import)\s*\(?\s*["'](\.{1,2}\/[^"']+\.ts)["']/g,
    ),
  ]
    .map((match) => ({
      target: new URL(match[2], `file:///${dir}/`).pathname.slice(1),
      typeOnly: match[1].startsWith("import type") ||
        new RegExp(`export\\s+type\\s*\\{[^}]*\\}\\s*from\\s*["']${match[2]}`).test(source),
    }));
}

/** The relative `.ts` modules `file` imports, of every kind. */
async function relativeImports(file: string): Promise<string[]> {
  return (await imports(file)).map((i) => i.target);
}

/**
 * The room a module of functions/ lives in: its top folder, with
 * `settings.ts` and `app.ts` in the rooms of their folders.
 */
function roomOf(file: string): string {
  const [, top, rest] = /^functions\/([^/]+)(\/.*)?$/.exec(file) ?? [];
  return rest ? top : top.replace(/\.ts$/, "");
}

/** The shared rooms: what every feature may build on. */
const SHARED_ROOMS = [
  "clerk",
  "database",
  "email",
  "feature",
  "health",
  "http",
  "inngest",
  "settings",
  "svix",
  "util",
];

/** The feature rooms: every other folder of functions/ with a `feature.ts`. */
async function featureRooms(): Promise<string[]> {
  const rooms: string[] = [];
  for await (const entry of Deno.readDir(path("functions"))) {
    if (!entry.isDirectory || SHARED_ROOMS.includes(entry.name)) continue;
    try {
      await Deno.stat(path(`functions/${entry.name}/feature.ts`));
      rooms.push(entry.name);
    } catch {
      // not a feature
    }
  }
  return rooms.sort();
}

Deno.test("functions/ holds at most three loose files; the rest live in folders named by role", async () => {
  const loose: string[] = [];
  for await (const entry of Deno.readDir(path("functions"))) {
    if (entry.isFile) loose.push(entry.name);
  }
  assert.ok(loose.length <= 3, `Loose files in functions/: ${loose.sort().join(", ")}`);
});

Deno.test("every folder of functions/ is a shared room, a feature, or the composition root", async () => {
  const features = await featureRooms();
  const unknown: string[] = [];
  for await (const entry of Deno.readDir(path("functions"))) {
    if (!entry.isDirectory) continue;
    const known = entry.name === "app" || SHARED_ROOMS.includes(entry.name) ||
      features.includes(entry.name);
    if (!known) unknown.push(entry.name);
  }
  assert.deepEqual(
    unknown,
    [],
    "folders that are neither (name them in SHARED_ROOMS or add a feature.ts)",
  );
  assert.ok(features.length >= 7, `features found: ${features.join(", ")}`);
});

Deno.test("each feature's feature.ts exports one factory", async () => {
  for (const feature of await featureRooms()) {
    const source = await Deno.readTextFile(path(`functions/${feature}/feature.ts`));
    const values = [
      ...source.matchAll(/^export\s+(?:async\s+)?(function|const|let|class)\s+(\w+)/gm),
    ]
      .map((m) => m[2]);
    assert.equal(values.length, 1, `functions/${feature}/feature.ts exports ${values.join(", ")}`);
    assert.match(values[0], /Feature$/, `functions/${feature}/feature.ts: the factory's name`);
  }
});

Deno.test("the folders of functions/ depend on one another without a cycle, type imports included", async () => {
  const graph = new Map<string, Set<string>>();
  for (const file of await tsFiles("functions")) {
    const from = roomOf(file);
    for (const { target } of await imports(file)) {
      const to = roomOf(target);
      if (to !== from) graph.set(from, (graph.get(from) ?? new Set()).add(to));
    }
  }
  const cycles: string[] = [];
  const state = new Map<string, "visiting" | "done">();
  const visit = (room: string, trail: string[]) => {
    if (state.get(room) === "done") return;
    if (state.get(room) === "visiting") {
      cycles.push([...trail.slice(trail.indexOf(room)), room].join(" -> "));
      return;
    }
    state.set(room, "visiting");
    for (const next of graph.get(room) ?? []) visit(next, [...trail, room]);
    state.set(room, "done");
  };
  for (const room of [...graph.keys()].sort()) visit(room, []);
  assert.deepEqual(cycles, [], `Cycles between folders:\n${cycles.join("\n")}`);
});

Deno.test("only the composition root imports app/, and features meet only through types", async () => {
  const features = await featureRooms();
  const wrong: string[] = [];
  for (const file of await tsFiles("functions")) {
    const from = roomOf(file);
    for (const { target, typeOnly } of await imports(file)) {
      const to = roomOf(target);
      if (to === "app" && from !== "app") wrong.push(`${file} imports ${target}`);
      if (SHARED_ROOMS.includes(from) && features.includes(to)) {
        wrong.push(`${file} (a shared room) imports the feature ${target}`);
      }
      if (features.includes(from) && features.includes(to) && from !== to && !typeOnly) {
        wrong.push(`${file} imports a value of another feature: ${target} (declare a port)`);
      }
    }
  }
  assert.deepEqual(wrong, []);
});

Deno.test("app.ts stays a page, and no module of functions/ grows past 300 lines", async () => {
  const lines = async (file: string) =>
    (await Deno.readTextFile(path(file))).split("\n").length - 1;
  assert.ok(
    await lines("functions/app.ts") <= 150,
    `app.ts: ${await lines("functions/app.ts")} lines`,
  );
  const long: string[] = [];
  for (const file of await tsFiles("functions")) {
    const n = await lines(file);
    if (n > 300) long.push(`${file}: ${n}`);
  }
  assert.deepEqual(long, []);
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
