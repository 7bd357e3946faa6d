/**
 * A `--preload` module that makes `Deno.serve(handler)` listen on
 * 127.0.0.1:$PORT. The deployed entrypoint calls `Deno.serve(handler)` and
 * lets the edge runtime choose the port; this lets a test or a benchmark run
 * that very file, unchanged, on a port of its own.
 */
const serve = Deno.serve;
const port = Number(Deno.env.get("PORT"));
if (!Number.isInteger(port) || port <= 0) {
  throw new RangeError("Cannot serve on PORT: it must be set to a port number");
}
Object.defineProperty(Deno, "serve", {
  value: (handler: Deno.ServeHandler) =>
    serve({ hostname: "127.0.0.1", port, onListen: () => {} }, handler),
});
