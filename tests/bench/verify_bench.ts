/**
 * Benchmark 2, for information: svix's verification of one signed Clerk
 * payload against the same check done with WebCrypto's HMAC-SHA256.
 *
 *   deno bench --allow-all tests/bench/verify_bench.ts
 */
import { Webhook } from "svix";
import { createVerifier, loadNativeHmac, svixHeaders } from "../../functions/clerk/verify.ts";
import { clerkPayload, signHeaders, TEST_SECRET } from "../support/clerk.ts";

const body = JSON.stringify(clerkPayload("user.created"));
const headers = signHeaders(body);
const signature = headers["svix-signature"].split(",")[1];

const svix = new Webhook(TEST_SECRET);
await loadNativeHmac(); // As after the app's second webhook.
const projectVerifier = createVerifier([TEST_SECRET]);
const parsedHeaders = svixHeaders(new Headers(headers));

const encoder = new TextEncoder();
const key = await crypto.subtle.importKey(
  "raw",
  Uint8Array.from(atob(TEST_SECRET.slice("whsec_".length)), (c) => c.charCodeAt(0)),
  { name: "HMAC", hash: "SHA-256" },
  false,
  ["verify"],
);

/** The same check as svix, with WebCrypto: timestamp tolerance, then HMAC. */
async function webCryptoVerify(): Promise<void> {
  const timestamp = Number(headers["svix-timestamp"]);
  if (Math.abs(Date.now() / 1000 - timestamp) > 300) throw new RangeError("Timestamp too old");
  const expected = Uint8Array.from(atob(signature), (c) => c.charCodeAt(0));
  const signed = encoder.encode(`${headers["svix-id"]}.${headers["svix-timestamp"]}.${body}`);
  if (!await crypto.subtle.verify("HMAC", key, expected, signed)) {
    throw new TypeError("Invalid signature");
  }
}

await webCryptoVerify(); // Fails fast if the baseline is wrong.

Deno.bench("WebCrypto HMAC verify", { group: "verify", baseline: true }, async () => {
  await webCryptoVerify();
});

Deno.bench("svix Webhook.verify", { group: "verify" }, () => {
  svix.verify(body, headers);
});

Deno.bench("project createVerifier (native HMAC)", { group: "verify" }, () => {
  projectVerifier(body, parsedHeaders);
});
