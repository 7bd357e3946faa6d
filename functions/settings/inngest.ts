/**
 * Settings of the Inngest client and serve handler. The SDK reads Inngest's
 * own variables itself; this group checks them first, so that a bad value is
 * named at start-up rather than failing a request later.
 */
import { z } from "zod";
import {
  type Env,
  isUrl,
  optional,
  optionalUrl,
  parseGroup,
  type SettingsGroup,
} from "./_schema.ts";
import { devModeRefusal, readInngestDev } from "./deployment.ts";

/** Settings of the Inngest client and serve handler. */
export interface InngestSettings {
  readonly mode: "dev" | "cloud";
  /** The Dev Server's URL, when `INNGEST_DEV` names one. */
  readonly devServerUrl?: string;
  readonly eventKey?: string;
  readonly signingKey?: string;
  readonly signingKeyFallback?: string;
  /** The INNGEST_* variables as given, for the SDK to read. */
  readonly env: Readonly<Record<string, string>>;
  readonly serveOrigin?: string;
  readonly servePath?: string;
}

/** The variables of the group, all read by the SDK too. */
export const INNGEST_SETTING_NAMES = [
  "INNGEST_EVENT_KEY",
  "INNGEST_SIGNING_KEY",
  "INNGEST_SIGNING_KEY_FALLBACK",
  "INNGEST_DEV",
  "INNGEST_BASE_URL",
  "INNGEST_EVENT_API_BASE_URL",
  "INNGEST_SERVE_ORIGIN",
  "INNGEST_SERVE_PATH",
] as const;

const signingKey = (name: string) =>
  z.string().refine((key) => key.startsWith("signkey-"), {
    error: `${name} must start with signkey-`,
  });

const schema = z.object({
  INNGEST_DEV: z.string().optional(),
  INNGEST_EVENT_KEY: z.string().optional(),
  INNGEST_SIGNING_KEY: z.string().optional(),
  INNGEST_SIGNING_KEY_FALLBACK: z.string().optional(),
  INNGEST_BASE_URL: optionalUrl("INNGEST_BASE_URL"),
  INNGEST_EVENT_API_BASE_URL: optionalUrl("INNGEST_EVENT_API_BASE_URL"),
  INNGEST_SERVE_ORIGIN: optionalUrl("INNGEST_SERVE_ORIGIN"),
  INNGEST_SERVE_PATH: z.string().refine((path) => path.startsWith("/"), {
    error: "INNGEST_SERVE_PATH must start with /, e.g. /functions/v1/clerk-events/inngest",
  }).optional(),
});

/** Cloud mode needs both keys; dev mode needs neither (the Dev Server signs nothing). */
const cloudSchema = z.object({
  INNGEST_EVENT_KEY: z.string({
    error: "INNGEST_EVENT_KEY is missing: needed to send events to Inngest Cloud",
  }),
  INNGEST_SIGNING_KEY: z.string({
    error: "INNGEST_SIGNING_KEY is missing: needed to verify calls from Inngest Cloud",
  }).pipe(signingKey("INNGEST_SIGNING_KEY")),
  INNGEST_SIGNING_KEY_FALLBACK: signingKey("INNGEST_SIGNING_KEY_FALLBACK").optional(),
});

/** Parses the Inngest group. Never throws. */
export function parseInngestSettings(env: Env): SettingsGroup<InngestSettings> {
  const dev = readInngestDev(env);
  const problems: string[] = [];
  if (!dev) problems.push("INNGEST_DEV must be 1, 0, or the Dev Server's URL");
  const refusal = devModeRefusal(env);
  if (refusal) problems.push(refusal);
  const mode = dev?.mode ?? "cloud";
  const parsed = parseGroup(
    mode === "cloud" ? schema.extend(cloudSchema.shape) : schema,
    env,
    (v) => v,
  );
  if (!parsed.ok) problems.push(...parsed.problems);
  if (problems.length || !parsed.ok) return { ok: false, problems };
  const value = parsed.value;
  return {
    ok: true,
    value: {
      mode,
      devServerUrl: dev?.url && isUrl(dev.url) ? dev.url : undefined,
      eventKey: value.INNGEST_EVENT_KEY,
      signingKey: value.INNGEST_SIGNING_KEY,
      signingKeyFallback: value.INNGEST_SIGNING_KEY_FALLBACK,
      env: Object.fromEntries(
        INNGEST_SETTING_NAMES.flatMap((name) => {
          const raw = optional(env[name]);
          return raw === undefined ? [] : [[name, raw]];
        }),
      ),
      serveOrigin: value.INNGEST_SERVE_ORIGIN,
      servePath: value.INNGEST_SERVE_PATH,
    },
  };
}
