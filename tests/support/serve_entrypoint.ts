/**
 * Runs the real Supabase entrypoint (`supabase/functions/clerk-events/index.ts`)
 * as a process, on the loopback port in `ENTRYPOINT_PORT`: the entrypoint
 * calls `Deno.serve(handler)` with the runtime's default port, which the
 * edge runtime chooses and a test cannot.
 */
const port = Number(Deno.env.get("ENTRYPOINT_PORT"));
const serve = Deno.serve;
Object.defineProperty(Deno, "serve", {
  value: (handler: Deno.ServeHandler) =>
    serve({ hostname: "127.0.0.1", port, onListen: () => console.error("listening") }, handler),
});
await import("../../supabase/functions/clerk-events/index.ts");
