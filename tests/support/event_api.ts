/**
 * A local stand-in for Inngest's event API (`POST /e/:key`). It records what
 * it accepts and can inject faults: error answers and requests that hang.
 */

/** An event as the SDK sends it. */
export interface ReceivedEvent {
  id?: string;
  name: string;
  data: Record<string, unknown>;
  ts?: number;
}

/** What the stand-in does with the next request. */
export type Fault = "none" | "error500" | "hang";

/** A running event API stand-in. */
export interface EventApi {
  /** Base URL for `INNGEST_EVENT_API_BASE_URL`. */
  readonly url: string;
  /** Every event accepted, in order. */
  readonly accepted: ReceivedEvent[];
  /** How many requests arrived, whatever their outcome. */
  readonly requests: () => number;
  /** Decides the fault for each request; default: none. */
  fault: (requestNumber: number) => Fault;
  close(): Promise<void>;
}

/** Starts the stand-in on a free loopback port. */
export function startEventApi(): EventApi {
  const accepted: ReceivedEvent[] = [];
  const hanging = new Set<() => void>();
  let count = 0;
  const api: EventApi = {
    url: "",
    accepted,
    requests: () => count,
    fault: () => "none",
    close: async () => {
      for (const release of hanging) release();
      await server.shutdown();
    },
  };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    // The Dev Server answers GET / with its UI; the function probes it so.
    if (req.method === "GET") return new Response("Inngest event API stand-in");
    count += 1;
    const fault = api.fault(count);
    const body = await req.text();
    if (fault === "hang") {
      // Hold the request until the test closes the stand-in; the client
      // gives up on its own by then.
      await new Promise<void>((resolve) => {
        const release = () => {
          hanging.delete(release);
          resolve();
        };
        hanging.add(release);
      });
      return new Response(null, { status: 504 });
    }
    if (fault === "error500") {
      return Response.json({ error: "injected failure", status: 500 }, { status: 500 });
    }
    const events = JSON.parse(body) as ReceivedEvent[];
    accepted.push(...events);
    return Response.json({ ids: events.map((e) => e.id ?? crypto.randomUUID()), status: 200 });
  });
  (api as { url: string }).url = `http://127.0.0.1:${server.addr.port}/`;
  return api;
}
