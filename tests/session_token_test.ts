import assert from "node:assert/strict";
import {
  createSessionTokenVerifier,
  type SessionTokenError,
  VerificationKeyError,
} from "../functions/clerk/session_token.ts";
import { normalizePem, parseSessionSettings } from "../functions/settings/session.ts";
import { newUserId } from "./support/clerk.ts";
import { startClerkApi, TEST_CLERK_SECRET_KEY } from "./support/clerk_api.ts";
import {
  base64url,
  createTestInstance,
  mintSessionToken,
  type TestInstance,
} from "./support/session_tokens.ts";

const acme = await createTestInstance("acme");
const other = await createTestInstance("other");

function verifierFor(instance: TestInstance, authorizedParties: string[] = []) {
  return createSessionTokenVerifier({ jwtKey: instance.publicKeyPem, authorizedParties });
}

async function refused(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => assert.fail("the token was accepted"),
    (error: unknown) => error,
  );
  assert.equal((error as Error).name, "SessionTokenError", String(error));
  return (error as SessionTokenError).problem;
}

Deno.test("a session token signed with CLERK_JWT_KEY's pair is verified without the network", async (t) => {
  const verify = verifierFor(acme);

  await t.step("a fresh token gives its user id and session", async () => {
    const sub = newUserId();
    const claims = await verify(await mintSessionToken(acme, { sub }));
    assert.equal(claims.sub, sub);
    assert.match(String(claims.sid), /^sess_/);
  });

  await t.step("an expired token is refused, one within the clock skew is not", async () => {
    const sub = newUserId();
    assert.equal(
      await refused(verify(await mintSessionToken(acme, { sub, expiresIn: -30 }))),
      "expired",
    );
    const justExpired = await mintSessionToken(acme, { sub, expiresIn: -2 });
    assert.equal((await verify(justExpired)).sub, sub);
  });

  await t.step("a token that is not valid yet is refused", async () => {
    const token = await mintSessionToken(acme, { sub: newUserId(), issuedIn: 120, expiresIn: 180 });
    assert.equal(await refused(verify(token)), "not_yet_valid");
  });

  await t.step("a token issued in the future beyond the skew is refused", async () => {
    const token = await mintSessionToken(acme, {
      sub: newUserId(),
      claims: { iat: Math.floor(Date.now() / 1000) + 60, nbf: undefined },
    });
    assert.equal(await refused(verify(token)), "issued_in_future");
  });

  await t.step("a token signed by another key is refused, even with our kid", async () => {
    const token = await mintSessionToken(other, { sub: newUserId(), kid: acme.kid });
    assert.equal(await refused(verify(token)), "signature");
  });

  await t.step("a token of another instance is refused", async () => {
    const token = await mintSessionToken(other, { sub: newUserId() });
    assert.equal(await refused(verify(token)), "signature");
  });

  await t.step("alg none is refused", async () => {
    const token = await mintSessionToken(acme, { sub: newUserId(), header: { alg: "none" } });
    assert.equal(await refused(verify(token)), "algorithm");
  });

  await t.step("HS256 keyed with the public key (algorithm confusion) is refused", async () => {
    const header = base64url(JSON.stringify({ alg: "HS256", kid: acme.kid, typ: "JWT" }));
    const now = Math.floor(Date.now() / 1000);
    const payload = base64url(JSON.stringify({ sub: newUserId(), exp: now + 60, iat: now }));
    const key = await crypto.subtle.importKey(
      "raw",
      new TextEncoder().encode(acme.publicKeyPem),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign"],
    );
    const mac = await crypto.subtle.sign(
      "HMAC",
      key,
      new TextEncoder().encode(`${header}.${payload}`),
    );
    const token = `${header}.${payload}.${base64url(new Uint8Array(mac))}`;
    assert.equal(await refused(verify(token)), "algorithm");
  });

  await t.step("a token whose payload was changed after signing is refused", async () => {
    const [header, , signature] = (await mintSessionToken(acme, { sub: newUserId() })).split(".");
    const now = Math.floor(Date.now() / 1000);
    const forged = base64url(JSON.stringify({ sub: "user_admin", exp: now + 60, iat: now }));
    assert.equal(await refused(verify(`${header}.${forged}.${signature}`)), "signature");
  });

  await t.step("garbage and a token without sub or exp are refused", async () => {
    assert.equal(await refused(verify("not-a-token")), "malformed");
    const noSub = await mintSessionToken(acme, { sub: "", claims: { sub: undefined } });
    assert.equal(await refused(verify(noSub)), "claims");
    const noExp = await mintSessionToken(acme, { sub: newUserId(), claims: { exp: undefined } });
    assert.equal(await refused(verify(noExp)), "claims");
  });
});

Deno.test("CLERK_AUTHORIZED_PARTIES restricts the azp claim", async (t) => {
  const verify = verifierFor(acme, ["https://acme.test", "https://www.acme.test"]);
  await t.step("a listed azp is accepted", async () => {
    const sub = newUserId();
    const token = await mintSessionToken(acme, { sub, azp: "https://www.acme.test" });
    assert.equal((await verify(token)).sub, sub);
  });
  await t.step("another azp is refused", async () => {
    const token = await mintSessionToken(acme, { sub: newUserId(), azp: "https://evil.test" });
    assert.equal(await refused(verify(token)), "authorized_party");
  });
  await t.step("a token without azp is refused", async () => {
    const token = await mintSessionToken(acme, { sub: newUserId(), azp: null });
    assert.equal(await refused(verify(token)), "authorized_party");
  });
  await t.step("without the setting, any azp is accepted", async () => {
    const token = await mintSessionToken(acme, { sub: newUserId(), azp: "https://evil.test" });
    assert.ok((await verifierFor(acme)(token)).sub);
  });
});

Deno.test("CLERK_JWT_KEY is accepted however it was pasted", async (t) => {
  const sub = newUserId();
  const token = await mintSessionToken(acme, { sub });
  const body = acme.publicKeyPem.split("\n").slice(1, -1).join("");
  const pasted = {
    "on one line with literal \\n": acme.publicKeyPem.replaceAll("\n", "\\n"),
    "with literal \\r\\n and quotes": `"${acme.publicKeyPem.replaceAll("\n", "\\r\\n")}"`,
    "as the bare base64 body": body,
    "with CRLF line breaks": acme.publicKeyPem.replaceAll("\n", "\r\n"),
  };
  for (const [how, value] of Object.entries(pasted)) {
    await t.step(how, async () => {
      const settings = parseSessionSettings({ CLERK_JWT_KEY: value });
      assert.ok(settings.ok, JSON.stringify(settings));
      const verify = createSessionTokenVerifier({ jwtKey: settings.value.jwtKey });
      assert.equal((await verify(token)).sub, sub);
    });
  }

  await t.step("a 3072-bit key works too (@clerk/backend takes only 2048)", async () => {
    const big = await createTestInstance("big", 3072);
    const verify = createSessionTokenVerifier({ jwtKey: normalizePem(big.publicKeyPem) });
    assert.equal((await verify(await mintSessionToken(big, { sub }))).sub, sub);
  });

  await t.step(
    "a key that is not an RSA public key is a key problem, not a token one",
    async () => {
      const verify = createSessionTokenVerifier({
        jwtKey: "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----",
      });
      await assert.rejects(verify(token), VerificationKeyError);
    },
  );
});

Deno.test("the session settings name each bad variable without its value", () => {
  const secretish = "-----BEGIN PUBLIC KEY-----\n!!not base64!!\n-----END PUBLIC KEY-----";
  const settings = parseSessionSettings({
    CLERK_JWT_KEY: secretish,
    CLERK_AUTHORIZED_PARTIES: "https://acme.test/app",
    CORS_ALLOWED_ORIGINS: "acme.test",
  });
  assert.equal(settings.ok, false);
  const problems = settings.ok ? [] : settings.problems;
  assert.deepEqual(problems.map((p) => p.split(" ")[0]), [
    "CLERK_JWT_KEY",
    "CLERK_AUTHORIZED_PARTIES",
    "CORS_ALLOWED_ORIGINS",
  ]);
  assert.ok(!problems.join(" ").includes("not base64"));
  assert.ok(!problems.join(" ").includes("acme.test/app"));
});

Deno.test("CORS origins default to the origin of APP_URL", () => {
  const fromApp = parseSessionSettings({ APP_URL: "https://acme.test/dashboard?x=1" });
  assert.deepEqual(fromApp.ok && fromApp.value.corsAllowedOrigins, ["https://acme.test"]);
  const explicit = parseSessionSettings({
    APP_URL: "https://acme.test",
    CORS_ALLOWED_ORIGINS: "https://a.acme.test, https://b.acme.test",
  });
  assert.deepEqual(explicit.ok && explicit.value.corsAllowedOrigins, [
    "https://a.acme.test",
    "https://b.acme.test",
  ]);
  const none = parseSessionSettings({ APP_URL: "nope" });
  assert.deepEqual(none.ok && none.value.corsAllowedOrigins, []);
});

Deno.test("without CLERK_JWT_KEY the keys come from the Backend API's JWKS, cached", async (t) => {
  const api = startClerkApi();
  api.jwks = { keys: [acme.jwk] };
  const jwksRequests = () => api.requests.filter((r) => r.path === "/v1/jwks");
  const verifier = (cooldownMs?: number, secretKey = TEST_CLERK_SECRET_KEY) =>
    createSessionTokenVerifier({ jwks: { apiUrl: api.url, secretKey, cooldownMs } });
  try {
    await t.step("one fetch, with the secret key, serves many tokens", async () => {
      const verify = verifier();
      for (let i = 0; i < 3; i++) {
        const sub = newUserId();
        assert.equal((await verify(await mintSessionToken(acme, { sub }))).sub, sub);
      }
      assert.deepEqual(jwksRequests().map((r) => r.status), [200]);
    });

    await t.step(
      "a rotated-in key is fetched on its first token once the cooldown allows",
      async () => {
        api.requests.length = 0;
        api.jwks = { keys: [acme.jwk] };
        const verify = verifier(0);
        await verify(await mintSessionToken(acme, { sub: newUserId() }));
        const next = await createTestInstance("acme-next");
        api.jwks = { keys: [acme.jwk, next.jwk] };
        const sub = newUserId();
        assert.equal((await verify(await mintSessionToken(next, { sub }))).sub, sub);
        assert.equal(jwksRequests().length, 2);
      },
    );

    await t.step("unknown key ids within the cooldown cause no refetch", async () => {
      api.requests.length = 0;
      const verify = verifier(60_000);
      await verify(await mintSessionToken(acme, { sub: newUserId() }));
      for (let i = 0; i < 5; i++) {
        const token = await mintSessionToken(other, { sub: newUserId() });
        assert.equal(await refused(verify(token)), "unknown_key");
      }
      assert.equal(jwksRequests().length, 1);
    });

    await t.step("a refused secret key is a key problem (503), not a bad token (401)", async () => {
      const verify = verifier(undefined, "sk_test_wrong");
      await assert.rejects(
        verify(await mintSessionToken(acme, { sub: newUserId() })),
        VerificationKeyError,
      );
    });
  } finally {
    await api.close();
  }
});
