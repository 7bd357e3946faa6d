/**
 * Follows the Quick starts literally, as a new user would, on a fresh copy
 * of the repository (the files a clone has: tracked, nothing ignored, no
 * `.env`):
 *
 * - the README's: `cp .env.example .env` and `deno task dev` on a machine
 *   with neither the local Supabase stack nor the Inngest Dev Server, which
 *   is what the README says to expect (its `deno task test` is this suite);
 * - docs/local-development.md's whole loop, by hand. Each command is run as
 *   written, except the two that need what these machines lack: `supabase
 *   start` (Docker) is played by the PostgREST double over the test
 *   database, and `inngest-cli dev` (a binary download) by the event API
 *   stand-in.
 *
 * The function learns their URLs from the process environment, which wins
 * over `.env` as the docs say; PORT moves it off 8930 so that runs in
 * parallel cannot collide, and the docs' URLs are compared with the port
 * replaced.
 */
import assert from "node:assert/strict";
import { DEFAULT_PORT } from "../scripts/dev.ts";
import { BANNER_END } from "../scripts/banner.ts";
import { INNGEST_CLI, SUPABASE_CLI } from "../functions/health/local_tools.ts";
import { connect } from "./support/database.ts";
import { startEventApi } from "./support/event_api.ts";
import { startPostgrest } from "./support/postgrest.ts";
import { freshCopy } from "./support/fresh_copy.ts";
import { freePort, REPO_ROOT, type Running, shellEnv, start, waitFor } from "./support/process.ts";

/** The section of `page` under `heading` (a `## ` heading), up to the next one. */
async function sectionOf(page: string, heading: string): Promise<string> {
  const text = await Deno.readTextFile(`${REPO_ROOT}/${page}`);
  const start = text.indexOf(`\n## ${heading}\n`);
  const end = text.indexOf("\n## ", start + 1);
  assert.ok(start >= 0 && end > start, `${page} has a section "${heading}"`);
  return text.slice(start, end);
}

/** The fenced blocks of `section` in `language`, as arrays of lines. */
function blocks(section: string, language: string): string[][] {
  const pattern = new RegExp("```" + language + "\\n([\\s\\S]*?)```", "g");
  return [...section.matchAll(pattern)].map((m) => m[1].trimEnd().split("\n"));
}

Deno.test("docs/local-development.md's whole loop works as written on a fresh clone", async (t) => {
  const section = await sectionOf("docs/local-development.md", "The whole loop, by hand");
  const byHand = blocks(section, "sh").find((lines) => lines.includes("deno task webhook:send"));
  assert.ok(byHand, "the whole loop is a block of commands ending in webhook:send");
  const commands = byHand.map((line) => line.replace(/\s+#.*$/, "").trim()).filter(Boolean);

  const dir = await freshCopy("clerk-events-quickstart-");
  const port = freePort();
  const readmeOrigin = `http://127.0.0.1:${DEFAULT_PORT}`;
  const origin = `http://127.0.0.1:${port}`;
  const env: Record<string, string> = { ...shellEnv(), NO_COLOR: "1", PORT: String(port) };
  const sql = await connect();
  const postgrest = startPostgrest(sql);
  // The Dev Server takes any event key; the copied .env sets none.
  const devServer = startEventApi({ eventKey: null });
  let dev: Running | undefined;
  try {
    for (const command of commands) {
      await t.step(command, async () => {
        if (command === "cp .env.example .env") {
          const { success } = await new Deno.Command("sh", { args: ["-c", command], cwd: dir })
            .output();
          assert.ok(success);
          assert.equal(
            await Deno.readTextFile(`${dir}/.env`),
            await Deno.readTextFile(`${dir}/.env.example`),
          );
        } else if (command === `npx --yes ${SUPABASE_CLI} start`) {
          // The stack's API and its secret key, in place of 127.0.0.1:54321.
          env.SUPABASE_URL = postgrest.url;
          env.SUPABASE_SECRET_KEYS = JSON.stringify({ default: postgrest.serviceKey });
        } else if (command.startsWith(`npx --yes ${INNGEST_CLI} dev `)) {
          assert.equal(
            command,
            `npx --yes ${INNGEST_CLI} dev --no-discovery -u ${readmeOrigin}/functions/v1/clerk-events/inngest`,
            "the Dev Server is pointed at the function's /inngest route",
          );
          env.INNGEST_DEV = devServer.url; // the Dev Server's URL, a documented INNGEST_DEV value
        } else if (command === "deno task dev") {
          dev = start(Deno.execPath(), ["task", "dev"], env, dir);
          await waitFor(
            () => dev!.output().includes(BANNER_END),
            "the banner of deno task dev",
            30_000,
            () => dev!.output(),
          );
        } else if (command === "deno task webhook:send") {
          const sent = await new Deno.Command(Deno.execPath(), {
            args: ["task", "webhook:send"],
            cwd: dir,
            clearEnv: true,
            env,
            stdout: "piped",
            stderr: "piped",
          }).output();
          const stdout = new TextDecoder().decode(sent.stdout);
          assert.equal(sent.code, 0, stdout + new TextDecoder().decode(sent.stderr));
          // The page: it prints the function's answer, `200 msg_… (… ms)`.
          assert.ok(section.includes("`200 msg_… (… ms)`"));
          const id = /^200 (msg_\S+) \(\d+ ms\)$/m.exec(stdout)?.[1];
          assert.ok(id, stdout);
          assert.deepEqual(devServer.accepted.map((event) => [event.id, event.name]), [
            [id, "clerk/user.created"],
          ]);
        } else {
          assert.fail(`The test does not know how to follow this Quick start command: ${command}`);
        }
      });
    }

    await t.step("the banner says what the page shows", () => {
      const banner = dev!.output();
      const shown = blocks(section, "text")[0];
      assert.ok(shown?.length, "the page shows the end of the banner");
      for (const line of shown) {
        assert.ok(banner.includes(line.replaceAll(readmeOrigin, origin)), `banner line: ${line}`);
      }
      assert.match(banner, /^Optional in dev mode, not set: .*INNGEST_SIGNING_KEY/m);
      assert.ok(section.includes("`Optional in dev mode, not set`"));
    });

    await t.step("/health says the same as the banner", async () => {
      const res = await fetch(`${origin}/functions/v1/clerk-events/health`);
      const body = await res.json();
      assert.equal(res.status, 200, JSON.stringify(body));
      assert.equal(body.status, "ok");
      assert.equal(body.mode, "dev");
      assert.equal(body.details, "dev mode", "the page: shown to anyone in dev mode");
      assert.equal(body.database, "reachable");
      assert.equal(body.inngest_dev_server, "reachable");
      assert.deepEqual(body.problems, []);
      const banner = dev!.output();
      const optional = /^Optional in dev mode, not set: (.*)$/m.exec(banner)?.[1].split(", ");
      assert.deepEqual(optional, body.optional_unset);
    });

    await t.step("Ctrl+C stops the dev task", async () => {
      const status = await dev!.stop("SIGINT");
      // deno task passes the signal on; it may report the child's 0 or the usual 130.
      assert.ok([0, 130].includes(status.code), `exit code ${status.code}\n${dev!.output()}`);
      assert.match(dev!.output(), /Received SIGINT: stopping the dev server/);
      await assert.rejects(
        fetch(`${origin}/functions/v1/clerk-events/health`),
        "the port is closed",
      );
    });
  } finally {
    await dev?.stop("SIGKILL");
    await devServer.close();
    await postgrest.close();
    await sql.end();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the README's quick start shows what a machine without Docker or the Dev Server gets", async (t) => {
  const section = await sectionOf("README.md", "Quick start");
  const commands = blocks(section, "sh")[0]?.map((line) => line.replace(/\s+#.*$/, "").trim());
  assert.deepEqual(commands, ["cp .env.example .env", "deno task dev", "deno task test"]);
  const dir = await freshCopy("clerk-events-readme-");
  const port = freePort();
  const readmeOrigin = `http://127.0.0.1:${DEFAULT_PORT}`;
  const origin = `http://127.0.0.1:${port}`;
  // Nothing answers at either: as on a machine without the stack and the Dev Server,
  // whatever happens to run on this one.
  const nobody = `http://127.0.0.1:${freePort()}`;
  const readmeDevServer = "http://localhost:8288";
  const env: Record<string, string> = {
    ...shellEnv(),
    NO_COLOR: "1",
    PORT: String(port),
    SUPABASE_URL: nobody,
    INNGEST_DEV: nobody,
  };
  const local = (line: string) =>
    line.replaceAll(readmeOrigin, origin).replaceAll(`${readmeDevServer}/`, nobody)
      .replaceAll(readmeDevServer, nobody);
  let dev: Running | undefined;
  try {
    await t.step("cp .env.example .env", async () => {
      const { success } = await new Deno.Command("sh", { args: ["-c", commands[0]], cwd: dir })
        .output();
      assert.ok(success);
    });

    await t.step("deno task dev starts, and its banner says what the README shows", async () => {
      dev = start(Deno.execPath(), ["task", "dev"], env, dir);
      await waitFor(
        () => dev!.output().includes(BANNER_END),
        "the banner of deno task dev",
        30_000,
        () => dev!.output(),
      );
      const banner = dev.output();
      const shown = blocks(section, "text")[0];
      assert.ok(shown?.length, "the Quick start shows the banner");
      for (const line of shown) assert.ok(banner.includes(local(line)), `banner line: ${line}`);
      assert.match(
        banner,
        /^\s+- Database: unreachable.*docs\/local-development\.md#without-docker/m,
      );
      assert.match(banner, /^Optional in dev mode, not set: .*INNGEST_SIGNING_KEY/m);
      assert.ok(section.includes("`Optional in dev mode, not set`"));
    });

    await t.step("/health answers 503, and a webhook 502 inngest_unreachable", async () => {
      const res = await fetch(`${origin}/functions/v1/clerk-events/health`);
      assert.equal(res.status, 503);
      assert.equal((await res.json()).status, "unavailable");
      const sent = await new Deno.Command(Deno.execPath(), {
        args: ["task", "webhook:send"],
        cwd: dir,
        clearEnv: true,
        env,
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stdout = new TextDecoder().decode(sent.stdout);
      assert.match(stdout, /^502 msg_\S+ \(\d+ ms\): .*"inngest_unreachable"/m);
      assert.ok(stdout.includes(`Could not reach Inngest at ${nobody}: start it:`), stdout);
      const prose = section.replace(/\s+/g, " ");
      assert.ok(prose.includes("**502** `inngest_unreachable`"), "the README says 502");
      assert.ok(
        prose.includes("`Could not reach Inngest at http://localhost:8288: start it: …`"),
        "the README quotes the answer",
      );
    });

    // `deno task test`, the third command, is the suite this test belongs to.
  } finally {
    // Ctrl+C, which deno task passes on: a SIGKILL would leave its child running.
    await dev?.stop("SIGINT");
    await Deno.remove(dir, { recursive: true });
  }
});
