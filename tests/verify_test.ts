/**
 * The project's verifier computes the HMAC natively instead of through
 * svix's pure-JS SHA-256: it must give svix's answer, message included, on
 * every delivery of the adversarial corpus and on the edge cases of svix's
 * own parsing.
 */
import assert from "node:assert/strict";
import { Webhook } from "svix";
import {
  createVerifier,
  loadNativeHmac,
  type SvixHeaders,
  svixHeaders,
  type Verifier,
  WebhookVerificationError,
} from "../functions/clerk/verify.ts";
import { buildCase, loadCorpus } from "./support/adversarial.ts";
import { clerkPayload, OTHER_SECRET, signHeaders, TEST_SECRET } from "./support/clerk.ts";

// Every verifier below signs natively, except where a test says otherwise.
await loadNativeHmac();

/** What the project verified with before: svix's `Webhook.verify`, secret by secret. */
function svixVerifier(secrets: readonly string[]): Verifier {
  const webhooks = secrets.map((secret) => new Webhook(secret));
  return (body, headers) => {
    const svix = {
      "svix-id": headers.id,
      "svix-timestamp": headers.timestamp,
      "svix-signature": headers.signature,
    };
    let lastError: unknown;
    for (const webhook of webhooks) {
      try {
        webhook.verify(body, svix);
        return;
      } catch (error) {
        lastError = error;
      }
    }
    throw lastError;
  };
}

/** "accepted", or the error's class and message. */
function outcome(verify: Verifier, body: string, headers: SvixHeaders): string {
  try {
    verify(body, headers);
    return "accepted";
  } catch (error) {
    const kind = error instanceof WebhookVerificationError ? "WebhookVerificationError" : "other";
    return `${kind}: ${error instanceof Error ? error.message : String(error)}`;
  }
}

const SECRET_SETS: Record<string, readonly string[]> = {
  "the test secret": [TEST_SECRET],
  "a rotation, the test secret second": [OTHER_SECRET, TEST_SECRET],
  "only a secret the senders do not use": [OTHER_SECRET],
};

Deno.test("verifier gives svix's answer on every signed delivery of the adversarial corpus", async (t) => {
  const cases = loadCorpus().flatMap(({ theme, cases }) =>
    cases.map((c) => ({ theme, c, built: buildCase(c) }))
  );
  for (const [name, secrets] of Object.entries(SECRET_SETS)) {
    await t.step(`with ${name}`, () => {
      const ours = createVerifier(secrets);
      const svix = svixVerifier(secrets);
      const seen = new Set<string>();
      let compared = 0;
      for (const { theme, c, built } of cases) {
        // Streamed (oversized) bodies never reach verification.
        if (built.text === undefined) continue;
        let headers: SvixHeaders;
        try {
          headers = svixHeaders(built.request.headers);
        } catch {
          continue; // Missing headers: answered before either verifier runs.
        }
        const expected = outcome(svix, built.text, headers);
        assert.equal(outcome(ours, built.text, headers), expected, `${theme}: ${c.name}`);
        seen.add(expected);
        compared += 1;
      }
      assert.ok(compared >= 40, `only ${compared} cases reached verification`);
      if (secrets.includes(TEST_SECRET)) {
        assert.ok(seen.has("accepted"), "some deliveries are accepted");
      }
      assert.ok(seen.size >= 3, `the corpus exercises few outcomes: ${[...seen].join(" | ")}`);
    });
  }
});

Deno.test("verifier gives svix's answer on the edge cases of svix's parsing", async (t) => {
  const body = JSON.stringify(clerkPayload("user.created"));
  const now = Math.floor(Date.now() / 1000);
  const signed = signHeaders(body);
  const signature = (text: string, id = signed["svix-id"], at = now) =>
    new Webhook(TEST_SECRET).sign(id, new Date(at * 1000), text);
  const cases: [string, string, Partial<SvixHeaders>][] = [
    ["a correct delivery", body, {}],
    ["a body with a lone surrogate and emoji", '{"a":"\ud800 😀 é"}', {
      signature: signature('{"a":"\ud800 😀 é"}'),
    }],
    ["a timestamp with trailing text, read by parseInt", body, { timestamp: `${now}abc` }],
    ["a timestamp with a leading zero, signed as sent", body, { timestamp: `0${now}` }],
    ["a timestamp that is not a number", body, { timestamp: "soon" }],
    ["a timestamp six minutes old", body, {
      timestamp: String(now - 360),
      signature: signature(body, undefined, now - 360),
    }],
    ["a timestamp six minutes ahead", body, { timestamp: String(now + 360) }],
    ["a v2 signature first, then the v1", body, {
      signature: `v2,abc ${signature(body)}`,
    }],
    ["a v1 signature with an extra comma part", body, { signature: `${signature(body)},extra` }],
    ["a bare v1 without a signature", body, { signature: "v1" }],
    ["a signature without its padding", body, { signature: signature(body).replace(/=+$/, "") }],
    ["an empty body signed as empty", "", { signature: signature("") }],
    ["an empty signature header", body, { signature: "" }],
    ["a non-ASCII message id", body, {
      id: "msg_\u00e9",
      signature: signature(body, "msg_\u00e9"),
    }],
  ];
  const secrets = [TEST_SECRET];
  const ours = createVerifier(secrets);
  const svix = svixVerifier(secrets);
  for (const [name, text, override] of cases) {
    await t.step(name, () => {
      const headers: SvixHeaders = {
        id: signed["svix-id"],
        timestamp: String(now),
        signature: signed["svix-signature"],
        ...override,
      };
      assert.equal(outcome(ours, text, headers), outcome(svix, text, headers));
    });
  }
});

/** A key longer than SHA-256's block (hashed first), and one that atob refuses but svix reads. */
const ODD_SECRETS = ["whsec_" + btoa("k".repeat(100)), "whsec_Y" + "A".repeat(100) + "=="];

Deno.test("verifier signs as svix does with secrets that atob reads differently", async (t) => {
  const body = JSON.stringify(clerkPayload("user.deleted"));
  // svix's base64 accepts these (padding omitted, a trailing newline, odd
  // padding); atob reads some of them into other bytes, or not at all.
  for (const secret of [...ODD_SECRETS, "whsec_YWJj\n", "whsec_YW==", "whsec_YWJ=", "YWJjZGVm"]) {
    await t.step(JSON.stringify(secret), () => {
      const headers = signHeaders(body, { secret });
      const parsed = svixHeaders(new Headers(headers));
      const ours = createVerifier([secret]);
      const svix = svixVerifier([secret]);
      assert.equal(outcome(ours, body, parsed), "accepted");
      assert.equal(outcome(svix, body, parsed), "accepted");
      const tampered = body.replace("user", "usEr");
      assert.equal(outcome(ours, tampered, parsed), outcome(svix, tampered, parsed));
    });
  }
});

Deno.test("verifier rejects a secret svix rejects, when it is created", () => {
  assert.throws(() => createVerifier(["whsec_YWI"]), /padding/);
  assert.throws(() => createVerifier([]), /no signing secret/);
});

Deno.test("verifier uses svix's own signer only for a secret it cannot sign identically", async (t) => {
  const body = JSON.stringify(clerkPayload("user.created"));
  const original = Webhook.prototype.sign;
  const svixSignsWhile = (secret: string): number => {
    const verify = createVerifier([secret]);
    const headers = svixHeaders(new Headers(signHeaders(body, { secret })));
    verify(body, headers); // Settles the signer, checking it against svix's once.
    let calls = 0;
    Webhook.prototype.sign = function (this: Webhook, ...args: Parameters<Webhook["sign"]>) {
      calls += 1;
      return original.apply(this, args);
    };
    try {
      verify(body, headers);
    } finally {
      Webhook.prototype.sign = original;
    }
    return calls;
  };
  await t.step("the test secret and a long one are signed natively", () => {
    assert.equal(svixSignsWhile(TEST_SECRET), 0);
    assert.equal(svixSignsWhile(ODD_SECRETS[0]), 0);
  });
  await t.step("a secret atob refuses is signed by svix", () => {
    assert.equal(svixSignsWhile(ODD_SECRETS[1]), 1);
  });
});

Deno.test("verifier signs with svix until node:crypto is loaded, which its second message starts", async () => {
  // A fresh copy of the module, in which node:crypto is not loaded yet.
  const fresh: typeof import("../functions/clerk/verify.ts") = await import(
    `../functions/clerk/verify.ts?fresh=${crypto.randomUUID()}`
  );
  const verify = fresh.createVerifier([TEST_SECRET]);
  // Signed before counting: the test's sender signs with svix too.
  const messages = Array.from({ length: 4 }, () => {
    const body = JSON.stringify(clerkPayload("user.created"));
    return { body, headers: svixHeaders(new Headers(signHeaders(body))) };
  });
  const original = Webhook.prototype.sign;
  let calls = 0;
  Webhook.prototype.sign = function (this: Webhook, ...args: Parameters<Webhook["sign"]>) {
    calls += 1;
    return original.apply(this, args);
  };
  const verifyOne = () => {
    const { body, headers } = messages.shift()!;
    verify(body, headers);
  };
  try {
    verifyOne();
    assert.equal(calls, 1, "the first message is signed by svix");
    verifyOne();
    assert.equal(calls, 2, "so is the second, which starts loading node:crypto");
    await fresh.loadNativeHmac();
    verifyOne();
    assert.equal(calls, 3, "once loaded, svix signs only the probe that checks the native signer");
    verifyOne();
    assert.equal(calls, 3, "and then nothing");
  } finally {
    Webhook.prototype.sign = original;
  }
});
