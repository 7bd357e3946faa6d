/**
 * Supabase Edge Function entrypoint: reads the environment once and serves
 * the app. Everything else lives in `functions/`.
 */
import { createApp } from "../../../functions/app.ts";

declare const EdgeRuntime: { waitUntil(promise: Promise<unknown>): void } | undefined;

const { handler } = createApp(Deno.env.toObject(), {
  waitUntil: typeof EdgeRuntime === "undefined" ? undefined : (p) => EdgeRuntime!.waitUntil(p),
});

Deno.serve(handler);
