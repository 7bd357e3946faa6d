/**
 * Settings of the Supabase client the workflows use. The edge runtime
 * injects them; locally they name the stack of `supabase start` or a hosted
 * project.
 */
import { z } from "zod";
import { type Env, isUrl, parseGroup, required, type SettingsGroup } from "./_schema.ts";

/** Settings of the Supabase client used by the workflows. */
export interface DatabaseSettings {
  readonly url: string;
  /** A secret key or the legacy service-role key: both bypass RLS. */
  readonly serviceKey: string;
}

/** The variables of the group. */
export const DATABASE_SETTING_NAMES = [
  "SUPABASE_URL",
  "SUPABASE_SERVICE_ROLE_KEY",
  "SUPABASE_SECRET_KEYS",
] as const;

const SECRET_KEYS_SHAPE =
  'SUPABASE_SECRET_KEYS must be a JSON object such as {"default":"sb_secret_..."}';

/** `{"default": "sb_secret_…", …}`: the default key, else the first. */
const secretKeys = z.string().transform((raw, ctx) => {
  const keys = z.record(z.string(), z.string().min(1)).safeParse(parseJson(raw));
  const chosen = keys.success ? keys.data.default ?? Object.values(keys.data)[0] : undefined;
  if (!chosen) ctx.addIssue({ code: "custom", message: SECRET_KEYS_SHAPE });
  return chosen ?? "";
});

const schema = z.object({
  SUPABASE_URL: required("SUPABASE_URL is missing")
    .refine(isUrl, { error: "SUPABASE_URL must be an http(s) URL" }),
  SUPABASE_SERVICE_ROLE_KEY: z.string().optional(),
  SUPABASE_SECRET_KEYS: secretKeys.optional(),
}).refine(
  (value) => value.SUPABASE_SERVICE_ROLE_KEY || value.SUPABASE_SECRET_KEYS !== undefined,
  {
    error: "SUPABASE_SERVICE_ROLE_KEY or SUPABASE_SECRET_KEYS is missing",
    // Reported beside a bad SUPABASE_URL too, not only once it is fixed.
    when: () => true,
  },
);

/** Parses the database group. Never throws. */
export function parseDatabaseSettings(env: Env): SettingsGroup<DatabaseSettings> {
  return parseGroup(schema, env, (value) => ({
    url: value.SUPABASE_URL,
    // The newer secret keys win over the legacy service-role key.
    serviceKey: (value.SUPABASE_SECRET_KEYS ?? value.SUPABASE_SERVICE_ROLE_KEY)!,
  }));
}

function parseJson(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return undefined;
  }
}
