/**
 * A local stand-in of Supabase's Management API, for deploying with the real,
 * pinned Supabase CLI: `--profile supabase-local` sends the CLI's requests to
 * `http://127.0.0.1:8080`. It records every request, and for
 * `POST /v1/projects/{ref}/functions/deploy` (the multipart upload of
 * `--use-api`) every file exactly as uploaded; it answers like the real API
 * and bundles nothing.
 *
 * The CLI's port is fixed, so two runs cannot both hold it: the stand-in waits
 * a bounded time for the port (another test run's deploy takes seconds), then
 * gives up and says why, and the caller skips what needed it.
 */
import { deployArgs } from "../../scripts/deploy.ts";

/** The address the CLI's `supabase-local` profile talks to. */
export const MANAGEMENT_API_PORT = 8080;
/** A project ref of the shape Supabase uses (20 lowercase letters). */
export const PROJECT_REF = "clerkeventsstandinxx";
/** An access token of the shape the CLI accepts (`sbp_` and 40 hex digits). */
export const ACCESS_TOKEN = `sbp_${"0123456789abcdef".repeat(3).slice(0, 40)}`;

/** One file the CLI uploaded. */
export interface UploadedFile {
  readonly name: string;
  readonly bytes: Uint8Array;
}

/** One deploy the stand-in received. */
export interface Deploy {
  readonly slug: string | null;
  readonly metadata: Record<string, unknown>;
  readonly files: UploadedFile[];
  /** Size of the whole multipart body, as sent. */
  readonly requestBytes: number;
}

/** A running stand-in. */
export interface ManagementApi {
  readonly requests: { method: string; path: string }[];
  readonly deploys: Deploy[];
  close(): Promise<void>;
}

/**
 * Starts the stand-in on 127.0.0.1:8080, waiting up to `waitMs` for the port;
 * returns why not if it stayed taken.
 */
export async function startManagementApi(
  waitMs = 60_000,
): Promise<ManagementApi | { busy: string }> {
  const requests: ManagementApi["requests"] = [];
  const deploys: Deploy[] = [];
  const handler = async (req: Request): Promise<Response> => {
    const url = new URL(req.url);
    requests.push({ method: req.method, path: url.pathname });
    const deploy = /^\/v1\/projects\/([^/]+)\/functions\/deploy$/.exec(url.pathname);
    if (req.method === "POST" && deploy) {
      const body = new Uint8Array(await req.arrayBuffer());
      const form = await new Response(body, { headers: req.headers }).formData();
      const files: UploadedFile[] = [];
      for (const value of form.getAll("file")) {
        if (value instanceof File) {
          files.push({ name: value.name, bytes: new Uint8Array(await value.arrayBuffer()) });
        }
      }
      const metadata = JSON.parse(String(form.get("metadata") ?? "{}"));
      const slug = url.searchParams.get("slug");
      deploys.push({ slug, metadata, files, requestBytes: body.length });
      const now = Date.now();
      return Response.json({
        id: crypto.randomUUID(),
        slug,
        name: metadata.name ?? slug,
        status: "ACTIVE",
        version: deploys.length,
        created_at: now,
        updated_at: now,
        verify_jwt: metadata.verify_jwt ?? true,
        import_map: Boolean(metadata.import_map_path),
        entrypoint_path: metadata.entrypoint_path,
      }, { status: 201 });
    }
    await req.body?.cancel();
    return Response.json({ message: "Not found" }, { status: 404 });
  };

  const deadline = Date.now() + waitMs;
  while (true) {
    try {
      const server = Deno.serve(
        { hostname: "127.0.0.1", port: MANAGEMENT_API_PORT, onListen: () => {} },
        handler,
      );
      return { requests, deploys, close: () => server.shutdown() };
    } catch (error) {
      if (!(error instanceof Deno.errors.AddrInUse)) throw error;
      if (Date.now() > deadline) {
        return {
          busy: `port ${MANAGEMENT_API_PORT} (the Supabase CLI's supabase-local profile) ` +
            `stayed in use for ${waitMs / 1000} s`,
        };
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}

const CLI_TIMEOUT_MS = 120_000;

/** The output of one run of the pinned Supabase CLI. */
export interface CliRun {
  readonly success: boolean;
  readonly output: string;
}

/**
 * Runs `deno task deploy`'s CLI command, `supabase functions deploy
 * clerk-events <extraArgs>`, against the stand-in, from `workdir` (a directory
 * holding `supabase/`).
 */
export async function deployWithCli(workdir: string, extraArgs: string[] = []): Promise<CliRun> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: deployArgs([
      "--project-ref",
      PROJECT_REF,
      "--profile",
      "supabase-local",
      "--workdir",
      workdir,
      ...extraArgs,
    ]),
    cwd: workdir,
    env: { SUPABASE_ACCESS_TOKEN: ACCESS_TOKEN, NO_COLOR: "1", DO_NOT_TRACK: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(CLI_TIMEOUT_MS),
  }).output().catch((error) => {
    throw new Error(`Cannot deploy with the Supabase CLI within ${CLI_TIMEOUT_MS} ms`, {
      cause: error,
    });
  });
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { success: output.success, output: decode(output.stdout) + decode(output.stderr) };
}
