import assert from "node:assert/strict";
import { INNGEST_CLI, SUPABASE_CLI } from "../functions/health/local_tools.ts";
import { BANNER_END } from "../scripts/banner.ts";
import { earlyExitReport, LastLines, spawnChild } from "../scripts/children.ts";
import { envFileNote } from "../scripts/env_file.ts";
import { INNGEST_EXIT_HINT, WITHOUT_INNGEST_HINT } from "../scripts/up.ts";
import { testEnv } from "./support/env.ts";
import { startEventApi } from "./support/event_api.ts";
import {
  alive,
  freePort,
  REPO_ROOT,
  type Running,
  start,
  taskArgs,
  waitFor,
} from "./support/process.ts";

const SLEEP = "/usr/bin/sleep";

/**
 * Stand-ins for `npx` (the Inngest Dev Server and the Supabase CLI) and
 * `docker`, in a directory that is the whole PATH. Each records its command
 * line; the Dev Server stand-in runs until it is signalled.
 */
async function standIns(
  options: {
    docker: "running" | "stopped" | "absent";
    inngestFails?: boolean;
    /** Also an `inngest` binary in the PATH directory (an Inngest CLI already installed). */
    inngestOnPath?: boolean;
  },
) {
  const dir = await Deno.makeTempDir({ prefix: "clerk-events-up-" });
  const log = `${dir}/calls.log`;
  const devServer = `${
    options.inngestFails
      ? 'i=1; while [ $i -le 30 ]; do echo "install line $i"; i=$((i + 1)); done; ' +
        'echo "Error: port 8288 is already in use" >&2; exit 1'
      : ""
  }
    echo $$ > "${dir}/inngest.pid"
    echo "Inngest Dev Server stand-in for $*"
    ${SLEEP} 1000 & child=$!
    trap 'kill $child; echo "Inngest Dev Server stand-in stopped"; exit 0' TERM INT
    wait $child`;
  if (options.inngestOnPath) {
    await Deno.writeTextFile(
      `${dir}/inngest`,
      `#!/bin/sh\necho "inngest $*" >> "${log}"\n${devServer}\n`,
    );
    await Deno.chmod(`${dir}/inngest`, 0o755);
  }
  await Deno.writeTextFile(
    `${dir}/npx`,
    `#!/bin/sh
echo "npx $*" >> "${log}"
case "$*" in
  *inngest-cli*)
    ${devServer}
    ;;
  *" start") echo "Started supabase local development setup."; exit 0 ;;
  *"migration up --local") echo "Local database is up to date."; exit 0 ;;
  *) echo "unexpected npx $*" >&2; exit 3 ;;
esac
`,
  );
  await Deno.chmod(`${dir}/npx`, 0o755);
  if (options.docker !== "absent") {
    await Deno.writeTextFile(
      `${dir}/docker`,
      `#!/bin/sh\necho "docker $*" >> "${log}"\nexit ${options.docker === "running" ? 0 : 1}\n`,
    );
    await Deno.chmod(`${dir}/docker`, 0o755);
  }
  return {
    dir,
    calls: async () => (await Deno.readTextFile(log).catch(() => "")).trim().split("\n"),
    inngestPid: async () => Number(await Deno.readTextFile(`${dir}/inngest.pid`)),
    remove: () => Deno.remove(dir, { recursive: true }),
  };
}

/**
 * Runs `deno task up` with `path` as the whole PATH, in dev mode, with the
 * Dev Server's URL at `devServerUrl` (an event API stand-in: the npx
 * stand-in cannot listen).
 */
async function up(
  path: string,
  port: number,
  devServerUrl = "http://127.0.0.1:9/",
  extra: Record<string, string> = {},
): Promise<Running> {
  const env: Record<string, string> = {
    PATH: path,
    HOME: Deno.env.get("HOME") ?? "/root",
    NO_COLOR: "1",
    PORT: String(port),
    ...extra,
  };
  const denoDir = Deno.env.get("DENO_DIR");
  if (denoDir) env.DENO_DIR = denoDir;
  for (
    const [name, value] of Object.entries(
      testEnv({
        INNGEST_DEV: devServerUrl,
        INNGEST_EVENT_API_BASE_URL: undefined,
        INNGEST_BASE_URL: undefined,
      }),
    )
  ) {
    if (value !== undefined) env[name] = value;
  }
  return start(Deno.execPath(), await taskArgs("up"), env);
}

/** Waits until the function, started by `up`, has printed its banner. */
function untilFunctionBanner(running: Running): Promise<void> {
  return waitFor(
    () => running.output().includes(`[function] ${BANNER_END}`),
    "the function's banner",
    30_000,
    running.output,
  );
}

Deno.test("deno task up without Docker starts the Dev Server, then the function, and Ctrl+C stops both", async () => {
  const tools = await standIns({ docker: "absent" });
  const port = freePort();
  const devServer = startEventApi();
  const running = await up(tools.dir, port, devServer.url);
  try {
    await untilFunctionBanner(running);
    const output = running.output();
    assert.match(output, /^\[up\] Docker is not installed: skipping the local Supabase stack/m);
    const serveUrl = `http://127.0.0.1:${port}/functions/v1/clerk-events/inngest`;
    assert.deepEqual(await tools.calls(), [
      `npx --yes ${INNGEST_CLI} dev --no-discovery -u ${serveUrl}`,
    ]);
    assert.match(output, /^\[inngest\] Inngest Dev Server stand-in for /m);
    // The function starts once the Dev Server answers, so its banner finds it.
    assert.match(output, /^\[up\] The Inngest Dev Server answers at http:/m);
    assert.match(output, /^\[function\] Inngest Dev Server: answers at /m);
    assert.match(output, /^\[function\] Inngest mode: dev/m);
    // The URL the Dev Server was given is where the function answers.
    const res = await fetch(serveUrl.replace(/inngest$/, "health"));
    await res.body?.cancel();
    assert.ok([200, 503].includes(res.status), `health answered ${res.status}`);
    const devServer = await tools.inngestPid();
    assert.ok(alive(devServer));

    const status = await running.stop("SIGINT");
    assert.equal(status.code, 0, running.output());
    assert.match(running.output(), /^\[up\] Received SIGINT: stopping inngest and function$/m);
    assert.match(running.output(), /^\[inngest\] Inngest Dev Server stand-in stopped$/m);
    assert.match(running.output(), /^\[function\] Received SIGTERM: stopping the dev server$/m);
    assert.ok(!alive(devServer), "the Dev Server stand-in is stopped");
    await assert.rejects(fetch(serveUrl), "the function is stopped");
  } finally {
    await running.stop("SIGKILL");
    await devServer.close();
    await tools.remove();
  }
});

Deno.test("deno task up with Docker starts the stack and applies the migrations first", async () => {
  const tools = await standIns({ docker: "running" });
  const port = freePort();
  const devServer = startEventApi();
  const running = await up(tools.dir, port, devServer.url);
  try {
    await untilFunctionBanner(running);
    const calls = await tools.calls();
    assert.deepEqual(calls.map((call) => call.replace(/ -u .*/, "")), [
      "docker info",
      `npx --yes ${SUPABASE_CLI} start`,
      `npx --yes ${SUPABASE_CLI} migration up --local`,
      `npx --yes ${INNGEST_CLI} dev --no-discovery`,
    ]);
    assert.match(running.output(), /^\[supabase\] Started supabase local development setup\.$/m);
  } finally {
    const status = await running.stop("SIGTERM");
    assert.equal(status.code, 0, running.output());
    await devServer.close();
    await tools.remove();
  }
});

Deno.test("deno task up without npx says what to install in one line", async () => {
  const empty = await Deno.makeTempDir({ prefix: "clerk-events-up-empty-" });
  const running = await up(empty, freePort());
  try {
    const status = await running.status;
    assert.equal(status.code, 1);
    const lines = running.output().trim().split("\n").filter((line) => !line.startsWith("[up]"));
    assert.deepEqual(lines, [
      "Cannot start inngest: npx is not on PATH; install Node.js 18 or later (it ships npx), " +
      "then run deno task up again",
    ]);
  } finally {
    await running.stop("SIGKILL");
    await Deno.remove(empty, { recursive: true });
  }
});

Deno.test("deno task up stops, without starting the function, when the Dev Server exits", async () => {
  const tools = await standIns({ docker: "absent", inngestFails: true });
  const running = await up(tools.dir, freePort());
  try {
    const status = await running.status;
    assert.equal(status.code, 1, running.output());
    const output = running.output();
    assert.match(output, /^\[inngest\] Error: port 8288 is already in use$/m);
    assert.match(output, /^\[up\] inngest exited with code 1: stopping inngest$/m);
    assert.doesNotMatch(output, /\[function\]/, "the function was not started");
    // At the end: why, with its last lines (not all 31) and where to look next.
    const end = output.slice(output.indexOf("[up] inngest exited early"));
    const report = end.split("\n").filter((line) => line.startsWith("[up]"));
    assert.equal(report[0], "[up] inngest exited early with code 1; its last 20 line(s):");
    const shown = report.slice(1, 21).map((line) => line.replace("[up]   | ", ""));
    assert.equal(shown.length, 20);
    assert.ok(shown.includes("Error: port 8288 is already in use"), shown.join("\n"));
    assert.ok(shown.includes("install line 30") && !shown.includes("install line 1"));
    assert.equal(report[21], `[up] ${INNGEST_EXIT_HINT}`);
    assert.match(INNGEST_EXIT_HINT, /downloads the Inngest binary from GitHub/);
    assert.ok(
      INNGEST_EXIT_HINT.endsWith(`npx --yes --foreground-scripts ${INNGEST_CLI} version`),
      INNGEST_EXIT_HINT,
    );
    // Then what still works without it, and how to use an Inngest CLI of one's own.
    assert.deepEqual(report.slice(22, 24), WITHOUT_INNGEST_HINT.map((line) => `[up] ${line}`));
    assert.match(report[22], /deno task dev alone still serves every route/);
    assert.match(report[22], /502 inngest_unreachable/);
    assert.match(report[23], /inngest binary on PATH or set INNGEST_CLI_PATH=/);
    assert.equal(report[24], "[up] Stopped");
  } finally {
    await running.stop("SIGKILL");
    await tools.remove();
  }
});

Deno.test("deno task up runs an Inngest CLI already on PATH instead of npx", async () => {
  const tools = await standIns({ docker: "absent", inngestOnPath: true });
  const port = freePort();
  const devServer = startEventApi();
  const running = await up(tools.dir, port, devServer.url);
  try {
    await untilFunctionBanner(running);
    const serveUrl = `http://127.0.0.1:${port}/functions/v1/clerk-events/inngest`;
    assert.deepEqual(await tools.calls(), [`inngest dev --no-discovery -u ${serveUrl}`]);
    assert.ok(
      running.output().includes(
        `[up] Starting the Inngest Dev Server (inngest on PATH (${tools.dir}/inngest)) for ${serveUrl}`,
      ),
      running.output(),
    );
  } finally {
    const status = await running.stop("SIGTERM");
    assert.equal(status.code, 0, running.output());
    await devServer.close();
    await tools.remove();
  }
});

Deno.test("deno task up runs the Inngest CLI that INNGEST_CLI_PATH names, or says it is not one", async (t) => {
  const tools = await standIns({ docker: "absent" });
  const own = await standIns({ docker: "absent", inngestOnPath: true });
  const devServer = startEventApi();
  try {
    await t.step("a binary outside PATH", async () => {
      const port = freePort();
      const running = await up(tools.dir, port, devServer.url, {
        INNGEST_CLI_PATH: `${own.dir}/inngest`,
      });
      try {
        await untilFunctionBanner(running);
        assert.deepEqual((await tools.calls()).filter(Boolean), [], "npx was not used");
        assert.match((await own.calls())[0], /^inngest dev --no-discovery -u http:/);
        assert.ok(running.output().includes(`(${own.dir}/inngest (INNGEST_CLI_PATH))`));
      } finally {
        const status = await running.stop("SIGTERM");
        assert.equal(status.code, 0, running.output());
      }
    });

    await t.step(
      "a path that is not an executable file: one line, before anything starts",
      async () => {
        const running = await up(tools.dir, freePort(), devServer.url, {
          INNGEST_CLI_PATH: `${own.dir}/no-such-inngest`,
        });
        const status = await running.status;
        assert.equal(status.code, 1);
        const lines = running.output().trim().split("\n").filter((line) =>
          !line.startsWith("[up]")
        );
        assert.deepEqual(lines, [
          `Cannot start inngest: INNGEST_CLI_PATH names ${own.dir}/no-such-inngest, which is not ` +
          "an executable file; point it at the inngest binary, or unset it to use npx",
        ]);
      },
    );
  } finally {
    await devServer.close();
    await tools.remove();
    await own.remove();
  }
});

Deno.test("deno task up says where the settings come from, and never claims a .env it lacks", async () => {
  const tools = await standIns({ docker: "absent" });
  const devServer = startEventApi();
  const running = await up(tools.dir, freePort(), devServer.url);
  try {
    await untilFunctionBanner(running);
    const output = running.output();
    const envFile = await Deno.stat(`${REPO_ROOT}/.env`).then(() => true, () => false);
    assert.ok(output.includes(`[up] ${await envFileNote()}`), output);
    assert.match(
      output,
      envFile
        ? /the function uses SUPABASE_URL from \.env or the shell/
        : /the function uses SUPABASE_URL from the shell \(there is no \.env\)/,
    );
  } finally {
    const status = await running.stop("SIGTERM");
    assert.equal(status.code, 0, running.output());
    await devServer.close();
    await tools.remove();
  }
});

Deno.test("a child that exits early leaves its last lines, and only those", async (t) => {
  await t.step("a ring keeps the newest lines, oldest first, each cut short", () => {
    const ring = new LastLines(3, 5);
    for (const line of ["a", "b", "c", "d", "0123456789"]) ring.push(line);
    assert.deepEqual(ring.lines(), ["c", "d", "01234…"]);
  });

  await t.step("a real child's output is copied with its prefix and its tail kept", async () => {
    const written: string[] = [];
    const child = spawnChild({
      name: "tool",
      command: Deno.execPath(),
      args: [
        "eval",
        "for (let i = 1; i <= 100; i++) console.log(`line ${i}`); " +
        "console.error('Error: no binary'); Deno.exit(3)",
      ],
      write: (text) => written.push(text),
      keepLines: 5,
    });
    const status = await child.done;
    assert.equal(status.code, 3);
    assert.equal(written.length, 101, "every line was copied");
    assert.equal(written[0], "[tool] line 1\n");
    const last = child.lastLines();
    assert.equal(last.length, 5);
    assert.ok(last.includes("Error: no binary") && last.includes("line 100"), last.join("\n"));
    assert.deepEqual(earlyExitReport(child, status, "a hint"), [
      "tool exited early with code 3; its last 5 line(s):",
      ...last.map((line) => `  | ${line}`),
      "a hint",
    ]);
  });

  await t.step("a silent child is reported as such", async () => {
    const child = spawnChild({
      name: "quiet",
      command: Deno.execPath(),
      args: ["eval", "Deno.exit(1)"],
      write: () => {},
    });
    const status = await child.done;
    assert.deepEqual(earlyExitReport(child, status), [
      "quiet exited early with code 1, and printed nothing",
    ]);
  });
});
