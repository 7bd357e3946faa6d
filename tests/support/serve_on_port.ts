/**
 * Runs an entrypoint (the path in the first argument) with its
 * `Deno.serve(handler)` listening on 127.0.0.1:$PORT. The deployed
 * entrypoint calls `Deno.serve(handler)` and lets the edge runtime choose the
 * port; this lets a test or a benchmark run that very file, unchanged, on a
 * port of its own, on any Deno 2 (2.1 has no `--preload`, hence a main
 * module that imports the entrypoint).
 */
import { pathToFileURL } from "node:url";

const serve = Deno.serve;
const port = Number(Deno.env.get("PORT"));
if (!Number.isInteger(port) || port <= 0) {
  throw new RangeError("Cannot serve on PORT: it must be set to a port number");
}
const entry = Deno.args[0];
if (!entry) {
  throw new TypeError("Cannot serve an entrypoint: pass its path as the first argument");
}
Object.defineProperty(Deno, "serve", {
  // `Deno.serve(handler)`, or `Deno.serve(options, handler)` with the options replaced.
  value: (first: Deno.ServeHandler | Deno.ServeOptions, second?: Deno.ServeHandler) =>
    serve(
      { hostname: "127.0.0.1", port, onListen: () => {} },
      typeof first === "function" ? first : second!,
    ),
});
await import(pathToFileURL(entry).href);
