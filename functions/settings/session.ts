/**
 * Settings of the on-demand sync route: how session tokens are checked and
 * which browser origins may call it.
 *
 * - `CLERK_JWT_KEY`: the instance's PEM public key (Clerk dashboard > API
 *   keys > JWT public key). Optional: without it, tokens are checked against
 *   the instance's JWKS, fetched with `CLERK_SECRET_KEY`. Pasted into an
 *   environment variable, a PEM often arrives on one line with literal `\n`,
 *   or as the bare base64 body; both are normalised to a PEM here.
 * - `CLERK_AUTHORIZED_PARTIES`: origins separated by spaces; when set, a
 *   token's `azp` claim must be one of them.
 * - `CORS_ALLOWED_ORIGINS`: origins separated by spaces or commas that get a
 *   CORS grant. Default: the origin of `APP_URL` (when that is invalid, the
 *   email group already reports it, and no origin is granted).
 */
import { type Env, group, optional, type SettingsGroup } from "./_schema.ts";

/** Settings of `POST /clerk-events/users/me/sync`. */
export interface SessionSettings {
  /** A normalised PEM public key, or absent to use the JWKS. */
  readonly jwtKey?: string;
  /** Accepted `azp` origins; empty accepts any. */
  readonly authorizedParties: readonly string[];
  /** Origins that get a CORS grant. */
  readonly corsAllowedOrigins: readonly string[];
}

const PEM = /^-----BEGIN PUBLIC KEY-----\n([A-Za-z0-9+/=\n]+)\n-----END PUBLIC KEY-----$/;

/**
 * An RSA public key in PEM, from how it was pasted: literal `\n` (or
 * `\r\n`) turned into line breaks, surrounding quotes and blanks removed,
 * and a bare base64 body wrapped in the PEM armour. `undefined` when it is
 * none of these.
 */
export function normalizePem(value: string): string | undefined {
  let text = value.trim().replace(/^["']|["']$/g, "").replace(/\\r|\r/g, "")
    .replace(/\\n/g, "\n").trim();
  if (!text.startsWith("-----")) {
    const body = text.replace(/\s+/g, "");
    text = `-----BEGIN PUBLIC KEY-----\n${body}\n-----END PUBLIC KEY-----`;
  }
  const lines = text.split("\n").map((line) => line.trim()).filter(Boolean);
  const pem = lines.join("\n");
  const match = PEM.exec(pem);
  if (!match) return undefined;
  let der: string;
  try {
    der = atob(match[1].replaceAll("\n", ""));
  } catch {
    return undefined;
  }
  // An SPKI structure (a DER SEQUENCE) that names rsaEncryption: the key
  // itself is imported, and checked, on first use.
  return der.charCodeAt(0) === 0x30 && der.includes(RSA_ENCRYPTION) ? pem : undefined;
}

/** The DER encoding of the rsaEncryption OID, 1.2.840.113549.1.1.1. */
const RSA_ENCRYPTION = atob("BgkqhkiG9w0BAQE=");

/** Whether `value` is an http(s) origin: scheme, host, port, and nothing else. */
function isOrigin(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === "http:" || url.protocol === "https:") && url.origin === value;
  } catch {
    return false;
  }
}

function originOf(value: string | undefined): string | undefined {
  if (!value) return undefined;
  try {
    const url = new URL(value);
    return url.protocol === "http:" || url.protocol === "https:" ? url.origin : undefined;
  } catch {
    return undefined;
  }
}

function list(value: string | undefined): string[] {
  return (value ?? "").split(/[\s,]+/).filter(Boolean);
}

/** Parses the session group from `env`. Never throws. */
export function parseSessionSettings(env: Env): SettingsGroup<SessionSettings> {
  const problems: string[] = [];

  const rawKey = optional(env.CLERK_JWT_KEY);
  const jwtKey = rawKey ? normalizePem(rawKey) : undefined;
  if (rawKey && !jwtKey) {
    problems.push(
      "CLERK_JWT_KEY must be the PEM public key from Clerk's dashboard " +
        "(-----BEGIN PUBLIC KEY-----...), or be left empty to use the JWKS",
    );
  }

  const authorizedParties = list(env.CLERK_AUTHORIZED_PARTIES);
  if (!authorizedParties.every(isOrigin)) {
    problems.push(
      "CLERK_AUTHORIZED_PARTIES must be origins separated by spaces, such as " +
        "https://app.example.com (scheme and host, no path)",
    );
  }

  const explicit = list(env.CORS_ALLOWED_ORIGINS);
  if (!explicit.every(isOrigin)) {
    problems.push(
      "CORS_ALLOWED_ORIGINS must be origins separated by spaces, such as " +
        "https://app.example.com (scheme and host, no path)",
    );
  }
  const fallback = originOf(optional(env.APP_URL));
  const corsAllowedOrigins = explicit.length ? explicit : fallback ? [fallback] : [];

  return group(problems, () => ({ jwtKey, authorizedParties, corsAllowedOrigins }));
}
