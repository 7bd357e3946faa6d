import assert from "node:assert/strict";
import { ENV_FILE, envFileNote, withoutEnvFile } from "../scripts/env_file.ts";
import { readEnvFile } from "./support/env_file.ts";
import { REPO_ROOT } from "./support/process.ts";

const TASKS_WITH_SETTINGS = ["dev", "up", "webhook:send", "email:preview", "reconcile"];

Deno.test("the local tasks read .env through Deno's --env-file, and the shell wins", async (t) => {
  await t.step("every task that needs settings passes --env-file=.env", async () => {
    const config = JSON.parse(await Deno.readTextFile(`${REPO_ROOT}/deno.json`));
    for (const task of TASKS_WITH_SETTINGS) {
      assert.ok(
        String(config.tasks[task]).split(/\s+/).includes(`--env-file=${ENV_FILE}`),
        `deno task ${task} reads ${ENV_FILE}`,
      );
    }
  });

  await t.step("a variable set in the shell wins over the file", async () => {
    const dir = await Deno.makeTempDir({ prefix: "env_file_" });
    try {
      await Deno.writeTextFile(`${dir}/.env`, 'APP_NAME="From file"\nAPP_URL=http://file.test\n');
      const { stdout, success } = await new Deno.Command(Deno.execPath(), {
        args: [
          "eval",
          "--env-file=.env",
          "console.log(Deno.env.get('APP_NAME'), Deno.env.get('APP_URL'))",
        ],
        cwd: dir,
        env: { APP_NAME: "From shell" },
        stdout: "piped",
        stderr: "null",
      }).output();
      assert.ok(success);
      assert.equal(new TextDecoder().decode(stdout).trim(), "From shell http://file.test");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });

  await t.step(".env.example loads as the working local defaults it promises", async () => {
    const example = await readEnvFile(new URL("../.env.example", import.meta.url));
    assert.equal(example.INNGEST_DEV, "1");
    assert.match(example.CLERK_WEBHOOK_SIGNING_SECRET, /^whsec_/);
  });
});

Deno.test("the tasks say in one line whether .env exists, and what to do without it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "env_note_" });
  const root = new URL(`file://${dir}/`);
  try {
    assert.match(await envFileNote(root), /no \.env file.*cp \.env\.example \.env/);
    await Deno.writeTextFile(`${dir}/.env`, "APP_NAME=x\n");
    assert.match(
      await envFileNote(root),
      /Settings: \.env, with variables set in the shell winning/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a child handed its environment whole runs without --env-file", () => {
  assert.deepEqual(
    withoutEnvFile(["run", "--env-file=.env", "--allow-net", "scripts/dev.ts"]),
    ["run", "--allow-net", "scripts/dev.ts"],
  );
});
