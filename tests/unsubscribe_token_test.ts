import assert from "node:assert/strict";
import { createUnsubscribeTokens } from "../functions/email/unsubscribe_token.ts";
import { newUserId } from "./support/clerk.ts";

const SECRET = btoa("unsubscribe-token-test-secret-01");
const OLD_SECRET = btoa("unsubscribe-token-test-secret-00");

/** Every token that differs from `token` in exactly one character. */
function oneCharacterChanged(token: string): string[] {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.";
  const variants: string[] = [];
  for (let i = 0; i < token.length; i++) {
    for (const char of alphabet) {
      if (char !== token[i]) variants.push(token.slice(0, i) + char + token.slice(i + 1));
    }
  }
  return variants;
}

Deno.test("unsubscribe tokens name one user and cannot be forged", async (t) => {
  const tokens = createUnsubscribeTokens([SECRET]);
  const userId = newUserId();
  const token = await tokens.sign(userId);

  await t.step("a signed token verifies to its user", async () => {
    assert.equal(await tokens.verify(token), userId);
  });

  await t.step("the token is URL-safe and does not show the secret", () => {
    assert.match(token, /^[A-Za-z0-9._-]+$/);
    assert.ok(!token.includes(SECRET));
  });

  await t.step("signing is deterministic, so a retried send carries the same link", async () => {
    assert.equal(await tokens.sign(userId), token);
  });

  await t.step("every token with one character changed is refused", async () => {
    const variants = oneCharacterChanged(token);
    const accepted = [];
    for (const variant of variants) {
      if (await tokens.verify(variant) !== undefined) accepted.push(variant);
    }
    assert.deepEqual(accepted, [], `${variants.length} variants tried`);
  });

  await t.step("another user's id with this token's signature is refused", async () => {
    const other = newUserId();
    const [version, , mac] = token.split(".");
    const id = btoa(other).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
    const forged = `${version}.${id}.${mac}`;
    assert.equal(await tokens.verify(forged), undefined);
    assert.notEqual(await tokens.sign(other), token);
  });

  await t.step("a token signed with another secret is refused", async () => {
    const stranger = createUnsubscribeTokens([btoa("someone-else-s-secret-32-bytes!!")]);
    assert.equal(await tokens.verify(await stranger.sign(userId)), undefined);
  });

  await t.step("malformed tokens are refused without throwing", async () => {
    for (
      const bad of ["", "v1", "v1..", "v2.abc.def", "v1.!!!.abc", `${token}.x`, "x".repeat(5000)]
    ) {
      assert.equal(await tokens.verify(bad), undefined, bad.slice(0, 20));
    }
  });
});

Deno.test("unsubscribe tokens survive a secret rotation", async (t) => {
  const userId = newUserId();
  const before = await createUnsubscribeTokens([OLD_SECRET]).sign(userId);
  const rotating = createUnsubscribeTokens([SECRET, OLD_SECRET]);

  await t.step("a link sent before the rotation still works", async () => {
    assert.equal(await rotating.verify(before), userId);
  });

  await t.step("new links are signed with the new secret", async () => {
    const after = await rotating.sign(userId);
    assert.equal(await createUnsubscribeTokens([SECRET]).verify(after), userId);
  });

  await t.step("once the old secret is removed, old links stop working", async () => {
    assert.equal(await createUnsubscribeTokens([SECRET]).verify(before), undefined);
  });
});
