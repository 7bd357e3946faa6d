/**
 * An in-process PostgreSQL for the tests: PGlite, exposed over the wire
 * protocol on a loopback port with pglite-socket, so that the Supabase CLI,
 * `postgres` and the PostgREST double reach it as they reach a server.
 *
 * PGlite is one backend: it serves one connection at a time. A second
 * connection is refused at once with PostgreSQL's own "too many connections"
 * error (SQLSTATE 53300), so that a client fails with a message instead of
 * retrying forever (pglite-socket's own refusal is a line of plain text that
 * clients do not understand). {@link EmbeddedDatabase.idle} lets the harness
 * wait until the previous client has gone before it opens the next one.
 */
import { PGlite } from "@electric-sql/pglite";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";
import type { Socket } from "node:net";

/** A running embedded database. */
export interface EmbeddedDatabase {
  /** Connection URL (`postgresql://postgres:postgres@127.0.0.1:<port>/postgres`). */
  readonly url: string;
  /** Runs SQL in-process, without a connection (several statements allowed). */
  exec(sql: string): Promise<void>;
  /** Resolves once no client is connected; rejects after `timeoutMs`. */
  idle(timeoutMs?: number): Promise<void>;
  /** Stops the socket server and PGlite. */
  close(): Promise<void>;
}

/** Starts PGlite and its socket server on a free loopback port. */
export async function startEmbeddedDatabase(): Promise<EmbeddedDatabase> {
  const db = await PGlite.create();
  // The limit of one is enforced by refuseSecondConnections: with
  // maxConnections 1, node:net (under Deno) leaves the extra socket hanging.
  const server = new PGLiteSocketServer({ db, host: "127.0.0.1", port: 0, maxConnections: 8 });
  refuseSecondConnections(server);
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
    close: async () => {
      await server.stop();
      await db.close();
    },
  };
}

/**
 * Wraps the server's (private) per-connection handler, which pglite-socket
 * 0.2.17 looks up on the instance for every new socket.
 */
function refuseSecondConnections(server: PGLiteSocketServer): void {
  const target = server as unknown as { handleConnection(socket: Socket): Promise<void> };
  const accept = target.handleConnection.bind(server);
  target.handleConnection = (socket) => {
    if (server.getStats().activeConnections === 0) return accept(socket);
    socket.end(fatal("53300", "PGlite serves one connection at a time: this one is refused"));
    return Promise.resolve();
  };
}

/** A PostgreSQL ErrorResponse message with severity FATAL. */
function fatal(code: string, message: string): Uint8Array {
  const fields = `SFATAL\0VFATAL\0C${code}\0M${message}\0\0`;
  const body = new TextEncoder().encode(fields);
  const out = new Uint8Array(1 + 4 + body.length);
  out[0] = "E".charCodeAt(0);
  new DataView(out.buffer).setInt32(1, 4 + body.length);
  out.set(body, 5);
  return out;
}
