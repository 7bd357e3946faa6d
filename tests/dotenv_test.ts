import assert from "node:assert/strict";
import { loadEnv, mergeEnv, parseDotenv } from "../scripts/dotenv.ts";

Deno.test("parseDotenv reads the forms .env files use", async (t) => {
  await t.step("KEY=VALUE lines, with spaces around = and the value trimmed", () => {
    assert.deepEqual(parseDotenv("A=1\nB = two \n"), { A: "1", B: "two" });
  });

  await t.step("comment lines, blank lines and malformed lines are skipped", () => {
    const text = "# a comment\n\n   # indented comment\nnot a setting\n=nokey\nC=3\n";
    assert.deepEqual(parseDotenv(text), { C: "3" });
  });

  await t.step("an export prefix is dropped", () => {
    assert.deepEqual(parseDotenv("export APP_NAME=Acme\n"), { APP_NAME: "Acme" });
  });

  await t.step("a trailing # comment ends an unquoted value, a # inside a word does not", () => {
    assert.deepEqual(parseDotenv("A=value # note\nB=abc#def\nC=# only a comment\n"), {
      A: "value",
      B: "abc#def",
      C: "",
    });
  });

  await t.step("single quotes keep the value literally", () => {
    assert.deepEqual(parseDotenv("A='  x # y \\n z '\n"), { A: "  x # y \\n z " });
  });

  await t.step("double quotes allow escapes and keep # and spaces", () => {
    assert.deepEqual(
      parseDotenv('EMAIL_FROM="Acme <hello@acme.test>" # sender\nB="a\\nb \\"q\\" \\\\"\n'),
      { EMAIL_FROM: "Acme <hello@acme.test>", B: 'a\nb "q" \\' },
    );
  });

  await t.step("a quoted value may span lines", () => {
    assert.deepEqual(parseDotenv('KEY="line one\nline two"\nNEXT=1\n'), {
      KEY: "line one\nline two",
      NEXT: "1",
    });
  });

  await t.step("an unterminated quote drops only that setting", () => {
    assert.deepEqual(parseDotenv("A='open\nB=2"), { B: "2" });
    assert.deepEqual(parseDotenv("B=2\nA='open"), { B: "2" });
  });

  await t.step("CRLF line ends, a byte order mark and an empty value are handled", () => {
    assert.deepEqual(parseDotenv("\uFEFFA=1\r\nB=\r\n"), { A: "1", B: "" });
  });

  await t.step("a secret list separated by spaces stays one value", () => {
    assert.deepEqual(parseDotenv('S="whsec_a whsec_b"\nT=whsec_a whsec_b\n'), {
      S: "whsec_a whsec_b",
      T: "whsec_a whsec_b",
    });
  });

  await t.step("the last of repeated keys wins", () => {
    assert.deepEqual(parseDotenv("A=1\nA=2\n"), { A: "2" });
  });
});

Deno.test("the process environment wins over the env file", async (t) => {
  await t.step("mergeEnv keeps file values only where the environment has none", () => {
    assert.deepEqual(mergeEnv({ A: "file", B: "file" }, { B: "env", C: "env" }), {
      A: "file",
      B: "env",
      C: "env",
    });
  });

  await t.step("loadEnv reads the named file and overlays the environment", async () => {
    const dir = await Deno.makeTempDir();
    try {
      const path = `${dir}/.env`;
      await Deno.writeTextFile(path, "APP_NAME=FromFile\nAPP_URL=https://file.test\n");
      const loaded = await loadEnv({ CLERK_EVENTS_ENV_FILE: path, APP_NAME: "FromEnv" }, "/none");
      assert.equal(loaded.env.APP_NAME, "FromEnv");
      assert.equal(loaded.env.APP_URL, "https://file.test");
      assert.match(loaded.note, /Loaded 2 variables from/);
      assert.doesNotMatch(loaded.note, /FromFile|file\.test/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });

  await t.step("a missing file is not an error", async () => {
    const loaded = await loadEnv({ A: "1" }, "/nonexistent/clerk-events/.env");
    assert.deepEqual(loaded.env, { A: "1" });
    assert.match(loaded.note, /No env file at \/nonexistent\/clerk-events\/\.env/);
  });

  await t.step("an empty CLERK_EVENTS_ENV_FILE reads no file", async () => {
    const loaded = await loadEnv({ CLERK_EVENTS_ENV_FILE: "" }, "/nonexistent/.env");
    assert.deepEqual(loaded.env, { CLERK_EVENTS_ENV_FILE: "" });
    assert.match(loaded.note, /is empty/);
  });
});
