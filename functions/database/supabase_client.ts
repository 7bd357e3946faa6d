/**
 * Creates the service-role supabase-js client. Import this module lazily
 * (`await import(...)`): supabase-js is only needed once a workflow runs.
 */
import { createClient, type SupabaseClient } from "@supabase/supabase-js";
import type { DatabaseSettings } from "../settings.ts";

/** A supabase-js client that acts as the service role, with no session. */
export function createServiceClient(
  settings: DatabaseSettings,
  fetchImpl?: typeof fetch,
): SupabaseClient {
  return createClient(settings.url, settings.serviceKey, {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
    global: fetchImpl ? { fetch: fetchImpl } : undefined,
  });
}
