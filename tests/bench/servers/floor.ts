/**
 * The cold-start floor: a process that loads the same heavy dependencies as
 * the app (svix, inngest, zod) and answers every request at once. Argument:
 * the port.
 */
import { Webhook } from "svix";
import { Inngest } from "inngest";
import { z } from "zod";

// Use the imports, so that nobody removes them as unused.
const loaded = [Webhook, Inngest, z].every((value) => value !== undefined);

Deno.serve(
  { hostname: "127.0.0.1", port: Number(Deno.args[0]), onListen: () => {} },
  async (req) => {
    await req.body?.cancel();
    return Response.json({ status: "accepted", loaded });
  },
);
