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
import { z } from "zod";
import { type Env, parseGroup, type SettingsGroup } from "./_schema.ts";

/** The variables of the group. */
export const SESSION_SETTING_NAMES = [
  "CLERK_JWT_KEY",
  "CLERK_AUTHORIZED_PARTIES",
  "CORS_ALLOWED_ORIGINS",
] as const;

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

/** Origins separated by spaces or commas, each checked by {@link isOrigin}. */
const origins = (name: string) =>
  z.string()
    .transform((raw) => raw.split(/[\s,]+/).filter(Boolean))
    .refine((values) => values.every(isOrigin), {
      error: `${name} must be origins separated by spaces, such as ` +
        "https://app.example.com (scheme and host, no path)",
    })
    .default([]);

const schema = z.object({
  CLERK_JWT_KEY: z.string().transform((raw, ctx) => {
    const pem = normalizePem(raw);
    if (!pem) {
      ctx.addIssue({
        code: "custom",
        message: "CLERK_JWT_KEY must be the PEM public key from Clerk's dashboard " +
          "(-----BEGIN PUBLIC KEY-----...), or be left empty to use the JWKS",
      });
    }
    return pem;
  }).optional(),
  CLERK_AUTHORIZED_PARTIES: origins("CLERK_AUTHORIZED_PARTIES"),
  CORS_ALLOWED_ORIGINS: origins("CORS_ALLOWED_ORIGINS"),
  // Read for its default only: the email group reports a bad APP_URL.
  APP_URL: z.string().optional(),
});

/** Parses the session group from `env`. Never throws. */
export function parseSessionSettings(env: Env): SettingsGroup<SessionSettings> {
  return parseGroup(schema, env, (value) => {
    const fallback = originOf(value.APP_URL);
    return {
      jwtKey: value.CLERK_JWT_KEY,
      authorizedParties: value.CLERK_AUTHORIZED_PARTIES,
      corsAllowedOrigins: value.CORS_ALLOWED_ORIGINS.length
        ? value.CORS_ALLOWED_ORIGINS
        : fallback
        ? [fallback]
        : [],
    };
  });
}
