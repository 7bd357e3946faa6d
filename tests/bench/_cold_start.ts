/**
 * Benchmark 3: time from process spawn to the first 2xx on a signed
 * webhook, for the app, the floor (only imports svix, inngest and zod, then
 * answers) and the bare forwarder.
 */
import { clerkPayload, signHeaders } from "../support/clerk.ts";
import { testEnv } from "../support/env.ts";
import { median } from "./_load.ts";
import { type ServerName, spawnServer, waitUntilAnswering } from "./_process.ts";
import { compare, num, type Row } from "./_report.ts";

/** How the cold-start benchmark runs. */
export interface ColdStartOptions {
  readonly eventApiUrl: string;
  readonly rounds: number;
  readonly progress: (line: string) => void;
}

const PATHS: Record<string, string> = {
  ours: "/clerk-events/webhook",
  floor: "/webhook",
  bare_forwarder: "/webhook",
};

/** Runs benchmark 3 and returns its rows. */
export async function coldStartBenchmark(options: ColdStartOptions): Promise<Row[]> {
  const body = JSON.stringify(clerkPayload("user.created"));
  const headers = { "content-type": "application/json", ...signHeaders(body) };
  const env = Object.fromEntries(
    Object.entries(testEnv({ INNGEST_EVENT_API_BASE_URL: options.eventApiUrl }))
      .filter((entry): entry is [string, string] => entry[1] !== undefined),
  );
  const once = async (name: ServerName): Promise<number> => {
    const since = performance.now();
    const server = spawnServer(name, {
      env: name === "ours" ? env : undefined,
      args: name === "bare_forwarder" ? [options.eventApiUrl] : [],
    });
    try {
      const url = server.url + PATHS[name];
      return await waitUntilAnswering(() => fetch(url, { method: "POST", headers, body }), since);
    } finally {
      await server.stop();
    }
  };

  const names: ServerName[] = ["floor", "bare_forwarder", "ours"];
  // One untimed start each, so that every timed one finds Deno's module
  // and code caches warm, as a deployed function would.
  for (const name of names) await once(name);
  const times = new Map<ServerName, number[]>(names.map((name) => [name, []]));
  for (let round = 1; round <= options.rounds; round++) {
    const order = names.map((_, i) => names[(i + round) % names.length]);
    const line: string[] = [];
    for (const name of order) {
      const ms = await once(name);
      times.get(name)!.push(ms);
      line.push(`${name} ${ms.toFixed(0)} ms`);
    }
    options.progress(`cold start round ${round}: ${line.join(", ")}`);
  }
  const ms = (name: ServerName) => median(times.get(name)!);
  return [
    compare(
      "3. Cold start to first 2xx, ms",
      ms("ours"),
      ms("floor"),
      num(),
      { on: "ratio", op: "<=", value: 1.25 },
      "floor",
    ),
    compare(
      "3. Cold start to first 2xx, ms",
      ms("ours"),
      ms("bare_forwarder"),
      num(),
      undefined,
      "bare forwarder",
    ),
  ];
}
