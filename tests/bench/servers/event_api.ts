/**
 * A stand-in for Inngest's event API (`POST /e/:key`) that answers at once,
 * as Inngest does when it accepts events. Argument: the port.
 */
Deno.serve(
  { hostname: "127.0.0.1", port: Number(Deno.args[0]), onListen: () => {} },
  async (req) => {
    const events = JSON.parse(await req.text()) as { id?: string }[];
    return Response.json({
      ids: events.map((event) => event.id ?? crypto.randomUUID()),
      status: 200,
    });
  },
);
