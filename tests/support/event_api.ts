/**
 * A local stand-in for Inngest's event API (`POST /e/:key`). It checks the
 * event key (401 for another, as Inngest does), records every event it
 * accepts (before any deduplication by id: that is Inngest's job, played by
 * the engine), and can inject faults: error answers, requests that hang, and
 * events accepted whose answer is then lost.
 */

/** An event as the SDK sends it. */
export interface ReceivedEvent {
  id?: string;
  name: string;
  data: Record<string, unknown>;
  ts?: number;
}

/**
 * What the stand-in does with the next request: `acceptThenDrop` records
 * the events as accepted, then breaks the connection instead of answering.
 */
export type Fault = "none" | "error500" | "hang" | "acceptThenDrop";

/** The event key the stand-in accepts unless told otherwise (the tests' `INNGEST_EVENT_KEY`). */
export const DEFAULT_EVENT_KEY = "test-event-key";

/** Options for {@link startEventApi}. */
export interface EventApiOptions {
  /**
   * The only event key accepted. Default {@link DEFAULT_EVENT_KEY}; `null`
   * accepts any key, as the Inngest Dev Server does.
   */
  readonly eventKey?: string | null;
}

/** A running event API stand-in. */
export interface EventApi {
  /** Base URL for `INNGEST_EVENT_API_BASE_URL`. */
  readonly url: string;
  /** Every event accepted, in order. */
  readonly accepted: ReceivedEvent[];
  /** How many requests arrived, whatever their outcome. */
  readonly requests: () => number;
  /** Requests refused because of their event key. */
  readonly unauthorized: () => number;
  /**
   * Decides the fault for each request with a valid key; default: none.
   * `events` are the events that request carries.
   */
  fault: (requestNumber: number, events: readonly ReceivedEvent[]) => Fault;
  close(): Promise<void>;
}

/** Starts the stand-in on a free loopback port. */
export function startEventApi(options: EventApiOptions = {}): EventApi {
  const eventKey = options.eventKey === undefined ? DEFAULT_EVENT_KEY : options.eventKey;
  const accepted: ReceivedEvent[] = [];
  const hanging = new Set<() => void>();
  let count = 0;
  let unauthorized = 0;
  const api: EventApi = {
    url: "",
    accepted,
    requests: () => count,
    unauthorized: () => unauthorized,
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
    const body = await req.text();
    const key = /^\/e\/([^/]+)$/.exec(new URL(req.url).pathname)?.[1];
    if (req.method !== "POST" || !key || (eventKey !== null && key !== eventKey)) {
      unauthorized += 1;
      return Response.json({ error: "Event key not found", status: 401 }, { status: 401 });
    }
    const events = JSON.parse(body) as ReceivedEvent[];
    const fault = api.fault(count, events);
    // Accepted, but the answer never arrives: the client times out and the
    // SDK sends the same events again.
    if (fault === "acceptThenDrop") accepted.push(...events);
    if (fault === "hang" || fault === "acceptThenDrop") {
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
    accepted.push(...events);
    return Response.json({ ids: events.map((e) => e.id ?? crypto.randomUUID()), status: 200 });
  });
  (api as { url: string }).url = `http://127.0.0.1:${server.addr.port}/`;
  return api;
}
