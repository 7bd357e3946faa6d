/**
 * The ingress baseline: reads the body and makes the same single outbound
 * fetch to the event API as the app does, with no verification, no parsing
 * and no SDK. Arguments: the port, then the event API's base URL.
 */
const [port, eventApiUrl] = Deno.args;
const target = new URL("e/bench-event-key", eventApiUrl).href;

Deno.serve({ hostname: "127.0.0.1", port: Number(port), onListen: () => {} }, async (req) => {
  const body = await req.text();
  const id = req.headers.get("svix-id") ?? crypto.randomUUID();
  const res = await fetch(target, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: `[{"id":${JSON.stringify(id)},"name":"clerk/forwarded","data":${body}}]`,
  });
  await res.body?.cancel();
  if (!res.ok) return Response.json({ status: "failed" }, { status: 502 });
  return Response.json({ status: "accepted", id });
});
