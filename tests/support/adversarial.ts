/**
 * Builds requests for the adversarial corpus in `tests/fixtures/adversarial/`.
 *
 * A case describes one delivery to the webhook as data: how it differs from a
 * correctly signed Clerk delivery, and the contract's answer. Signatures are
 * made at test time (timestamps must be fresh) with `signHeaders` and
 * `TEST_SECRET`. The format is documented in
 * `tests/fixtures/adversarial/README.md`.
 */
import { clerkPayload, type FixtureType, OTHER_SECRET, signHeaders, TEST_SECRET } from "./clerk.ts";

/** A JSON text built from a Clerk fixture, then edited. */
export interface ClerkBody {
  /** The fixture to start from. */
  readonly clerk: FixtureType;
  /** Dotted paths (`data.email_addresses.0.id`) set to JSON values. */
  readonly set?: Readonly<Record<string, unknown>>;
  /** Dotted paths removed. */
  readonly delete?: readonly string[];
  /** Nests `depth` arrays (or objects) at a dotted path. */
  readonly nest?: {
    readonly at: string;
    readonly depth: number;
    readonly kind?: "array" | "object";
  };
  /** Pads `data.padding` so that the UTF-8 body is exactly this many bytes. */
  readonly padTo?: number;
  /** Text replacements on the serialized JSON, in order. */
  readonly replace?: readonly (readonly [string, string])[];
  /** Text put before the serialized JSON. */
  readonly prefix?: string;
  /** Text put after the serialized JSON. */
  readonly suffix?: string;
  /** What `padTo` pads with (default `x`); the body may pass `padTo` by less than one of these. */
  readonly padWith?: string;
}

/** What a case sends as the body. */
export type BodySpec =
  | string
  | null
  | ClerkBody
  /** `depth` nested arrays as the whole body. */
  | { readonly nested: number }
  /** A streamed body of `text` repeated up to `bytes`, without content-length. */
  | { readonly repeat: string; readonly bytes: number };

/** How the delivery is signed. */
export interface SignSpec {
  /** Sign this text instead of the body as sent. */
  readonly body?: string;
  /** Sign the body as sent with these text replacements applied (a tampered delivery). */
  readonly replace?: readonly (readonly [string, string])[];
  /** `"test"` (default), `"other"` (a secret the app does not know) or a `whsec_` literal. */
  readonly secret?: string;
  /** Seconds added to now for the signed timestamp. */
  readonly offsetSeconds?: number;
  /** The message id to sign. Default: a fresh one. */
  readonly id?: string;
  /** Header prefix. Default `svix`. */
  readonly prefix?: "svix" | "webhook";
}

/** A header value: text with placeholders, or parts joined together. */
export type HeaderValue = string | readonly (string | { repeat: string; times: number })[];

/** The contract's answer to a case. */
export interface Expectation {
  readonly status: number;
  /** For 2xx: the name of the one event forwarded. */
  readonly forwarded?: string;
  /** For streamed bodies: the most bytes the handler may pull. */
  readonly readAtMost?: number;
}

/** One case of the corpus. */
export interface AdversarialCase {
  /** A sentence: what is sent, and why this is the answer. */
  readonly name: string;
  readonly method?: string;
  readonly path?: string;
  /** Default: the `user.created` fixture. */
  readonly body?: BodySpec;
  /** `false`: no signature headers at all. */
  readonly sign?: false | SignSpec;
  /** Headers set after signing; `null` removes one. Names are case-insensitive. */
  readonly headers?: Readonly<Record<string, HeaderValue | null>>;
  /** Headers appended after `headers`, as a duplicate field would arrive. */
  readonly append?: readonly (readonly [string, HeaderValue])[];
  readonly expect: Expectation;
}

/** A built case. */
export interface BuiltCase {
  readonly request: Request;
  /** The body text as sent, when it was not streamed. */
  readonly text?: string;
  /** The svix id that was signed. */
  readonly id: string;
  /** Bytes the stream handed out so far (0 for bodies that are not streamed). */
  readonly pulled: () => number;
}

const CHUNK_BYTES = 64 * 1024;

/** Builds the request a case describes, signing it now. */
export function buildCase(c: AdversarialCase): BuiltCase {
  const method = c.method ?? "POST";
  const url = `http://localhost${c.path ?? "/clerk-events/webhook"}`;
  const spec = c.body === undefined ? { clerk: "user.created" as const } : c.body;
  let pulledBytes = 0;
  let text: string | undefined;
  let body: BodyInit | null = null;
  if (spec !== null && typeof spec === "object" && "repeat" in spec) {
    const chunk = new TextEncoder().encode(
      spec.repeat.repeat(Math.ceil(CHUNK_BYTES / spec.repeat.length)).slice(0, CHUNK_BYTES),
    );
    body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (pulledBytes >= spec.bytes) return controller.close();
        const next = chunk.subarray(0, Math.min(chunk.byteLength, spec.bytes - pulledBytes));
        pulledBytes += next.byteLength;
        controller.enqueue(next);
      },
    }, { highWaterMark: 0 });
  } else {
    text = bodyText(spec);
    body = spec === null ? null : text;
  }

  const headers = new Headers();
  let signed: Record<string, string> = {};
  if (c.sign !== false) {
    const sign = c.sign ?? {};
    const secret = sign.secret === undefined || sign.secret === "test"
      ? TEST_SECRET
      : sign.secret === "other"
      ? OTHER_SECRET
      : sign.secret;
    let signedText = sign.body ?? text ?? "";
    for (const [from, to] of sign.replace ?? []) signedText = replaceOnce(signedText, from, to);
    signed = signHeaders(signedText, {
      secret,
      id: sign.id,
      at: new Date(Date.now() + (sign.offsetSeconds ?? 0) * 1000),
      prefix: sign.prefix,
    });
    for (const [name, value] of Object.entries(signed)) headers.set(name, value);
  }
  if (text !== undefined) headers.set("content-type", "application/json");
  const vars = {
    id: signed["svix-id"] ?? signed["webhook-id"] ?? "",
    timestamp: signed["svix-timestamp"] ?? signed["webhook-timestamp"] ?? "",
    signature: signed["svix-signature"] ?? signed["webhook-signature"] ?? "",
  };
  for (const [name, value] of Object.entries(c.headers ?? {})) {
    if (value === null) headers.delete(name);
    else headers.set(name, headerValue(value, vars));
  }
  for (const [name, value] of c.append ?? []) headers.append(name, headerValue(value, vars));

  const bodyAllowed = method !== "GET" && method !== "HEAD";
  const request = new Request(url, { method, headers, body: bodyAllowed ? body : null });
  return { request, text, id: vars.id, pulled: () => pulledBytes };
}

/** The UTF-8 length of `text`. */
export function byteLength(text: string): number {
  return new TextEncoder().encode(text).byteLength;
}

function bodyText(spec: Exclude<BodySpec, { repeat: string }>): string {
  if (spec === null) return "";
  if (typeof spec === "string") return spec;
  if ("nested" in spec) return "[".repeat(spec.nested) + "]".repeat(spec.nested);
  const payload: Record<string, unknown> = clerkPayload(spec.clerk);
  for (const [path, value] of Object.entries(spec.set ?? {})) setPath(payload, path, value);
  for (const path of spec.delete ?? []) deletePath(payload, path);
  const NEST = "\u0001nest\u0001";
  if (spec.nest) setPath(payload, spec.nest.at, NEST);
  let text = JSON.stringify(payload);
  if (spec.nest) {
    const { depth, kind = "array" } = spec.nest;
    const nested = kind === "array"
      ? "[".repeat(depth) + "]".repeat(depth)
      : '{"a":'.repeat(depth) + "null" + "}".repeat(depth);
    text = text.replace(JSON.stringify(NEST), nested);
  }
  if (spec.padTo !== undefined) {
    const PAD = "\u0001pad\u0001";
    setPath(payload, "data.padding", PAD);
    const without = JSON.stringify(payload).replace(JSON.stringify(PAD), '""');
    const missing = spec.padTo - byteLength(without);
    if (missing < 0) throw new RangeError(`Cannot pad the body to ${spec.padTo} bytes`);
    const unit = spec.padWith ?? "x";
    const padding = unit.repeat(Math.ceil(missing / byteLength(unit)));
    text = replaceOnce(without, '"padding":""', `"padding":${JSON.stringify(padding)}`);
  }
  for (const [from, to] of spec.replace ?? []) text = replaceOnce(text, from, to);
  return (spec.prefix ?? "") + text + (spec.suffix ?? "");
}

function replaceOnce(text: string, from: string, to: string): string {
  if (!text.includes(from)) throw new RangeError(`Cannot replace ${JSON.stringify(from)}`);
  return text.replace(from, () => to);
}

function headerValue(value: HeaderValue, vars: Record<string, string>): string {
  const parts = typeof value === "string" ? [value] : value;
  return parts
    .map((part) => typeof part === "string" ? part : part.repeat.repeat(part.times))
    .join("")
    .replace(/\{(id|timestamp|signature|sig|sig_nopad)\}/g, (_, name: string) => {
      const sig = vars.signature.split(",")[1] ?? "";
      if (name === "sig") return sig;
      if (name === "sig_nopad") return sig.replace(/=+$/, "");
      return vars[name];
    });
}

function segments(path: string): string[] {
  return path.split(".");
}

function parentOf(root: Record<string, unknown>, path: string): [Record<string, unknown>, string] {
  const keys = segments(path);
  let node: Record<string, unknown> = root;
  for (const key of keys.slice(0, -1)) {
    const next = node[key];
    if (next === null || typeof next !== "object") {
      throw new RangeError(`Cannot follow ${JSON.stringify(path)} at ${JSON.stringify(key)}`);
    }
    node = next as Record<string, unknown>;
  }
  return [node, keys[keys.length - 1]];
}

function setPath(root: Record<string, unknown>, path: string, value: unknown): void {
  const [node, key] = parentOf(root, path);
  // defineProperty, so that a key such as `__proto__` becomes an own field.
  Object.defineProperty(node, key, {
    value: structuredClone(value),
    enumerable: true,
    writable: true,
    configurable: true,
  });
}

function deletePath(root: Record<string, unknown>, path: string): void {
  const [node, key] = parentOf(root, path);
  delete node[key];
}

/** The corpus: every `*.json` file in `tests/fixtures/adversarial/`, by theme (file name). */
export function loadCorpus(): { theme: string; cases: AdversarialCase[] }[] {
  const dir = new URL("../fixtures/adversarial/", import.meta.url);
  const files = [...Deno.readDirSync(dir)]
    .filter((entry) => entry.isFile && entry.name.endsWith(".json"))
    .map((entry) => entry.name)
    .sort();
  return files.map((file) => {
    const cases = JSON.parse(Deno.readTextFileSync(new URL(file, dir))) as AdversarialCase[];
    for (const c of cases) {
      if (typeof c.name !== "string" || typeof c.expect?.status !== "number") {
        throw new TypeError(`Cannot load ${file}: every case needs a name and expect.status`);
      }
    }
    return { theme: file.replace(/\.json$/, ""), cases };
  });
}
