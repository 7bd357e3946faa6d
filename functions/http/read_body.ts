/**
 * Reads a request body as text without ever holding more than a limit.
 */
import { HttpError } from "./http_error.ts";

// Keep a leading byte order mark: the signature covers the exact bytes.
// One decoder for every request: `decode` without `stream` keeps no state.
const decoder = new TextDecoder("utf-8", { ignoreBOM: true });

/**
 * Returns the body of `req` as UTF-8 text, or throws HttpError 413 as soon as
 * the declared length or the bytes actually received pass `maxBytes`. The
 * check comes before any parsing, so an oversized body costs at most
 * `maxBytes` of memory.
 */
export async function readBodyText(req: Request, maxBytes: number): Promise<string> {
  const tooLarge = () =>
    new HttpError(413, "payload_too_large", `Body is larger than ${maxBytes} bytes`);
  const declared = Number(req.headers.get("content-length"));
  if (Number.isFinite(declared) && declared > maxBytes) {
    await req.body?.cancel();
    throw tooLarge();
  }
  if (!req.body) return "";
  // A declared length bounds what the server reads (HTTP framing), so read the
  // body in one call. Read chunk by chunk, Deno 2.1 (what Supabase runs)
  // allocates a 64 KiB buffer per read, and under load V8 then runs a full
  // GC every few requests (docs/benchmarks.md).
  if (req.headers.get("content-length") !== null && Number.isInteger(declared)) {
    const bytes = new Uint8Array(await req.arrayBuffer());
    if (bytes.byteLength > maxBytes) throw tooLarge();
    return decoder.decode(bytes);
  }
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  while (true) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel();
      throw tooLarge();
    }
    chunks.push(value);
  }
  // A body of a few KiB arrives in one chunk: decode it without a copy.
  if (chunks.length === 1) return decoder.decode(chunks[0]);
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return decoder.decode(bytes);
}
