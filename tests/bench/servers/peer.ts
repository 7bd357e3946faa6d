/**
 * The peer: what a user would write themselves, as in the Supabase template
 * and most examples. It verifies with `svix`, `JSON.parse`s the body and
 * calls `inngest.send`, and nothing else. Same pinned svix and inngest as
 * the app; settings from the same environment. Argument: the port.
 */
import { Webhook } from "svix";
import { Inngest } from "inngest";

const wh = new Webhook(Deno.env.get("CLERK_WEBHOOK_SIGNING_SECRET")!);
const inngest = new Inngest({ id: "clerk-events-peer" });

Deno.serve(
  { hostname: "127.0.0.1", port: Number(Deno.args[0]), onListen: () => {} },
  async (req) => {
    const payload = await req.text();
    try {
      wh.verify(payload, Object.fromEntries(req.headers));
    } catch {
      return new Response("Invalid signature", { status: 401 });
    }
    const evt = JSON.parse(payload);
    await inngest.send({
      id: req.headers.get("svix-id")!,
      name: `clerk/${evt.type}`,
      data: evt.data,
    });
    return Response.json({ ok: true });
  },
);
