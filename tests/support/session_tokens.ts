/**
 * Clerk session tokens for tests: an RSA key pair per "instance", and RS256
 * JWTs carrying the claims of Clerk's v2 session tokens.
 *
 * Tokens are signed here with Web Crypto directly, not with `jose`, so that
 * the tests do not share a library (or a mistake in using it) with the code
 * that verifies them.
 */

/** A Clerk instance's signing key, as the tests hold it. */
export interface TestInstance {
  /** The key id Clerk puts in the header (`ins_…`). */
  readonly kid: string;
  /** The Frontend API URL, the `iss` of its tokens. */
  readonly issuer: string;
  readonly privateKey: CryptoKey;
  /** The public key as Clerk's dashboard shows it (PEM). */
  readonly publicKeyPem: string;
  /** The public key as the Backend API's `GET /v1/jwks` lists it. */
  readonly jwk: JsonWebKey & { kid: string; alg: string; use: string };
}

/** Creates an instance with a fresh 2048-bit RSA key pair (Clerk's size). */
export async function createTestInstance(name = "acme", modulusLength = 2048): Promise<
  TestInstance
> {
  const pair = await crypto.subtle.generateKey(
    {
      name: "RSASSA-PKCS1-v1_5",
      modulusLength,
      publicExponent: new Uint8Array([1, 0, 1]),
      hash: "SHA-256",
    },
    true,
    ["sign", "verify"],
  );
  const kid = `ins_${name}${crypto.randomUUID().replaceAll("-", "").slice(0, 20)}`;
  const spki = new Uint8Array(await crypto.subtle.exportKey("spki", pair.publicKey));
  const body = btoa(String.fromCharCode(...spki)).match(/.{1,64}/g)!.join("\n");
  const jwk = await crypto.subtle.exportKey("jwk", pair.publicKey);
  return {
    kid,
    issuer: `https://clerk.${name}.test`,
    privateKey: pair.privateKey,
    publicKeyPem: `-----BEGIN PUBLIC KEY-----\n${body}\n-----END PUBLIC KEY-----`,
    jwk: { kty: jwk.kty, n: jwk.n, e: jwk.e, kid, alg: "RS256", use: "sig" },
  };
}

/** Options for {@link mintSessionToken}. */
export interface MintOptions {
  /** The user id (`sub`). */
  readonly sub: string;
  /** The origin of the app (`azp`). Default `https://acme.test`. */
  readonly azp?: string | null;
  /** Seconds from now until `exp`. Default 60, Clerk's default lifetime. */
  readonly expiresIn?: number;
  /** Seconds from now for `iat`; `nbf` is 10 s before it, as Clerk does. Default 0. */
  readonly issuedIn?: number;
  /** Header fields to override, e.g. `{ alg: "none" }` or another `kid`. */
  readonly header?: Record<string, unknown>;
  /** Claims to add or override. */
  readonly claims?: Record<string, unknown>;
  /** Sign with this instance's key but claim another one's `kid`. */
  readonly kid?: string;
}

const encoder = new TextEncoder();

/** Base64url without padding. */
export function base64url(bytes: Uint8Array | string): string {
  const data = typeof bytes === "string" ? encoder.encode(bytes) : bytes;
  let binary = "";
  for (const byte of data) binary += String.fromCharCode(byte);
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/** A signed v2 session token of `instance` for `options.sub`. */
export async function mintSessionToken(
  instance: TestInstance,
  options: MintOptions,
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const iat = now + (options.issuedIn ?? 0);
  const header = { alg: "RS256", kid: options.kid ?? instance.kid, typ: "JWT", ...options.header };
  const claims: Record<string, unknown> = {
    azp: options.azp === undefined ? "https://acme.test" : options.azp,
    exp: now + (options.expiresIn ?? 60),
    fva: [0, -1],
    iat,
    iss: instance.issuer,
    nbf: iat - 10,
    sid: `sess_${crypto.randomUUID().replaceAll("-", "").slice(0, 27)}`,
    sub: options.sub,
    v: 2,
    pla: "u:free_user",
    fea: "u:sync",
    ...options.claims,
  };
  if (claims.azp === null) delete claims.azp;
  const input = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}`;
  if (header.alg === "none") return `${input}.`;
  const signature = await crypto.subtle.sign(
    "RSASSA-PKCS1-v1_5",
    instance.privateKey,
    encoder.encode(input),
  );
  return `${input}.${base64url(new Uint8Array(signature))}`;
}
