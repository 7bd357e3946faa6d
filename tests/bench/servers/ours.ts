/**
 * "Ours" for the benchmarks: the app exactly as the Supabase entrypoint
 * builds it (settings from the environment, default logger), served on the
 * loopback port given as the first argument. The bench spawns it with the
 * `--v8-flags` of the `dev` task (see `devV8Flags` in `_process.ts`).
 */
import { createApp } from "../../../functions/app.ts";

const { handler } = createApp(Deno.env.toObject());

Deno.serve({ hostname: "127.0.0.1", port: Number(Deno.args[0]), onListen: () => {} }, handler);
