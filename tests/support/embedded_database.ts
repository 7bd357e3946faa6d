/**
 * An in-process PostgreSQL for the tests: PGlite, exposed over the wire
 * protocol on a loopback port with pglite-socket, so that the Supabase CLI,
 * `postgres` and the PostgREST double reach it as they reach a server.
 *
 * PGlite is one backend: it serves one connection at a time. The server is
 * started with `maxConnections: 1`, so a second connection is refused at once
 * rather than interleaved, and {@link EmbeddedDatabase.idle} lets the harness
 * wait until the previous client has gone before it opens the next one.
 */
import { PGlite } from "@electric-sql/pglite";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";

/** A running embedded database. */
export interface EmbeddedDatabase {
  /** Connection URL (`postgresql://postgres:postgres@127.0.0.1:<port>/postgres`). */
  readonly url: string;
  /** Runs SQL in-process, without a connection (several statements allowed). */
  exec(sql: string): Promise<void>;
  /** Resolves once no client is connected; rejects after `timeoutMs`. */
  idle(timeoutMs?: number): Promise<void>;
}

/** Starts PGlite and its socket server on a free loopback port. */
export async function startEmbeddedDatabase(): Promise<EmbeddedDatabase> {
  const db = await PGlite.create();
  const server = new PGLiteSocketServer({ db, host: "127.0.0.1", port: 0, maxConnections: 1 });
  await server.start();
  const url = `postgresql://postgres:postgres@${server.getServerConn()}/postgres`;
  return {
    url,
    exec: async (sql) => {
      await db.exec(sql);
    },
    idle: async (timeoutMs = 5_000) => {
      const deadline = Date.now() + timeoutMs;
      while (server.getStats().activeConnections > 0) {
        if (Date.now() > deadline) {
          throw new Error(
            `Cannot open a connection to the embedded database: a client stayed connected for ` +
              `${timeoutMs} ms. PGlite serves one connection at a time: end the previous pool ` +
              "(sql.end()) before calling connect() again",
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    },
  };
}
