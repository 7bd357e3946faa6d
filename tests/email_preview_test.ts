import assert from "node:assert/strict";
import { parseSettings } from "../functions/settings.ts";

const SCRIPT = new URL("../scripts/email_preview.ts", import.meta.url).pathname;

/** Where Deno finds its npm cache, passed through the cleared environment. */
function cacheEnv(): Record<string, string> {
  return Object.fromEntries(
    ["HOME", "DENO_DIR", "XDG_CACHE_HOME"].flatMap((name) => {
      const value = Deno.env.get(name);
      return value === undefined ? [] : [[name, value]];
    }),
  );
}

/** Runs `deno task email:preview` with only `env` (no .env file), writing to a temp folder. */
async function preview(env: Record<string, string>) {
  const out = await Deno.makeTempDir({ prefix: "email_preview_" });
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-env", "--allow-read", "--allow-write", SCRIPT, "--out", out],
    env: { ...cacheEnv(), NO_COLOR: "1", ...env },
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code, out, stdout: decode(stdout), stderr: decode(stderr) };
}

Deno.test("email:preview renders every email in every variant, with an index", async () => {
  const { code, out, stdout, stderr } = await preview({ APP_URL: "https://acme.test/app" });
  try {
    assert.equal(code, 0, stderr);
    const files = [...Deno.readDirSync(out)].map((entry) => entry.name).sort();
    const expected = [
      "welcome-first-name",
      "welcome-no-name",
      "welcome-long-name",
      "trial_offer-first-name",
      "trial_offer-no-name",
      "trial_offer-long-name",
      "trial_offer-unsubscribe-link",
      "trial_offer-stripe-trial-running",
    ];
    assert.deepEqual(
      files,
      [...expected.flatMap((name) => [`${name}.html`, `${name}.txt`]), "index.html"].sort(),
    );
    const index = await Deno.readTextFile(`${out}/index.html`);
    for (const name of expected) {
      assert.ok(index.includes(`<iframe src="${name}.html"`), `index shows ${name}`);
    }
    const text = await Deno.readTextFile(`${out}/trial_offer-no-name.txt`);
    assert.match(text, /^Subject: Try Acme Pro free for 14 days\n\nHello,\n/);
    assert.ok(text.includes("https://acme.test/app/upgrade"));
    assert.match(stdout, /Sample values for: APP_NAME, EMAIL_FROM, EMAIL_POSTAL_ADDRESS/);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("email:preview with a bad APP_URL prints the function's settings error, no stack trace", async () => {
  const { code, out, stderr } = await preview({ APP_URL: "acme.example" });
  await Deno.remove(out, { recursive: true });
  assert.equal(code, 1);
  const group = parseSettings({ APP_URL: "acme.example" }).email;
  assert.ok(!group.ok);
  const problem = group.problems.find((p) => p.startsWith("APP_URL"));
  assert.equal(problem, "APP_URL must be an http(s) URL");
  assert.equal(
    stderr,
    `Cannot render the email previews: the email settings are invalid\n  - ${problem}\n`,
  );
  assert.doesNotMatch(stderr, /\bat \S+:\d+|Uncaught|Invalid URL/);
});
