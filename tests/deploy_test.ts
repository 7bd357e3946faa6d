import assert from "node:assert/strict";
import { join, relative } from "node:path";
import {
  buildFunction,
  type BuildResult,
  DEFAULT_OUT_DIR,
  importSpecifiers,
  REPO_ROOT,
} from "../scripts/build.ts";
import { deployWithCli, startManagementApi } from "./support/management_api.ts";

/** Where the artifact lives relative to the project directory (config.toml's entrypoint). */
const ARTIFACT_DIR = relative(REPO_ROOT, DEFAULT_OUT_DIR);

/**
 * Builds the artifact into a temporary project directory (its own
 * `supabase/config.toml`, a copy of the repo's), runs `fn`, then removes it.
 */
async function withBuild(fn: (build: BuildResult, workdir: string) => Promise<void>) {
  const workdir = await Deno.makeTempDir({ prefix: "clerk_events_build_" });
  try {
    await Deno.mkdir(join(workdir, "supabase"));
    await Deno.copyFile(
      join(REPO_ROOT, "supabase/config.toml"),
      join(workdir, "supabase/config.toml"),
    );
    await fn(await buildFunction(join(workdir, ARTIFACT_DIR)), workdir);
  } finally {
    await Deno.remove(workdir, { recursive: true });
  }
}

Deno.test("the built artifact imports nothing but its own files and node built-ins", async () => {
  await withBuild(async (build) => {
    assert.ok(build.files.includes("index.js"), "the entry file is index.js");
    let usesRequire = false;
    let createsRequire = false;
    for (const file of build.files) {
      const code = await Deno.readTextFile(join(build.outDir, file));
      // Packages call require("node:…"); there is no require in an ES module
      // unless the bundle makes one with createRequire.
      usesRequire ||= code.includes("Dynamic require of");
      createsRequire ||= /\bcreateRequire\b/.test(code);
      const imports = importSpecifiers(code);
      for (const specifier of [...imports.static, ...imports.dynamic]) {
        if (specifier.startsWith("node:")) continue;
        assert.ok(specifier.startsWith("./"), `${file} imports "${specifier}"`);
        assert.ok(
          build.files.includes(specifier.slice(2)),
          `${file} imports a missing ${specifier}`,
        );
      }
    }
    assert.ok(!usesRequire || createsRequire, "require() is backed by createRequire");
  });
});

Deno.test("the built artifact fits in the 5 MB Supabase bundles it into without Docker", async () => {
  await withBuild((build) => {
    // Supabase bundles the uploaded files with every npm package they reach:
    // the artifact reaches none, so what it holds is the artifact itself.
    const mb = build.bytes / 1_000_000;
    assert.ok(mb <= 5, `the artifact is ${mb.toFixed(2)} MB`);
    return Promise.resolve();
  });
});

Deno.test("supabase functions deploy uploads exactly the built artifact", async (t) => {
  const api = await startManagementApi();
  if ("busy" in api) {
    // Another run's deploy holds the CLI's fixed port for longer than a deploy takes.
    await t.step({
      name: `deploy through the stand-in (ignored: ${api.busy})`,
      ignore: true,
      fn() {},
    });
    return;
  }
  try {
    await withBuild(async (build, workdir) => {
      const expected = build.files.map((file) => `${ARTIFACT_DIR}/${file}`).sort();
      const dockerAbsent = !(await Deno.stat("/var/run/docker.sock").catch(() => undefined));
      const paths = [
        { name: "with --use-api", args: ["--use-api"], run: true },
        // Without Docker, the CLI falls back to the same server-side bundling path.
        { name: "without --use-api and without Docker", args: [], run: dockerAbsent },
      ];
      for (const path of paths) {
        await t.step({
          name: `${path.name}, it uploads every file of the artifact and nothing else`,
          ignore: !path.run,
          fn: async () => {
            const before = api.deploys.length;
            const run = await deployWithCli(workdir, path.args);
            assert.ok(run.success, run.output);
            assert.match(run.output, /Deployed Functions on project \w+: clerk-events/);
            assert.equal(api.deploys.length, before + 1, "one deploy request");
            const deploy = api.deploys[before];
            assert.equal(deploy.slug, "clerk-events");
            assert.equal(deploy.metadata.entrypoint_path, `${ARTIFACT_DIR}/index.js`);
            assert.equal(deploy.metadata.verify_jwt, false);
            const names = deploy.files.map((file) => file.name).sort();
            assert.deepEqual(names, expected);
            for (const file of deploy.files) {
              const onDisk = await Deno.readFile(join(workdir, file.name));
              assert.deepEqual(file.bytes, onDisk, `${file.name} is uploaded unchanged`);
            }
          },
        });
      }
    });
  } finally {
    await api.close();
  }
});
