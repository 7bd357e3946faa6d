/**
 * A small `.env` reader for the local CLI commands.
 *
 * It understands what `.env.example` and most dotenv files use: `KEY=VALUE`
 * lines, `#` comments, an optional `export ` prefix, and values in single or
 * double quotes. Double-quoted values may use `\n`, `\t`, `\"` and `\\`;
 * single-quoted values are taken literally. It does not expand `$VARIABLES`.
 * Reading the process environment is left to the entrypoints.
 */

import { fileURLToPath } from "node:url";

const LINE = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.]*)\s*=\s*(.*?)\s*$/;

/** Parses the text of a `.env` file; malformed lines are ignored. */
export function parseDotenv(text: string): Record<string, string> {
  const result: Record<string, string> = {};
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const match = LINE.exec(lines[i]);
    if (!match) continue;
    const [, key] = match;
    let value = match[2];
    const quote = value[0];
    if (quote === '"' || quote === "'") {
      // A quoted value may span lines, up to the closing quote.
      const start = i;
      let rest = value.slice(1);
      let end = closingQuote(rest, quote);
      while (end === -1 && i + 1 < lines.length) {
        rest += "\n" + lines[++i];
        end = closingQuote(rest, quote);
      }
      if (end === -1) {
        i = start;
        continue;
      }
      const inner = rest.slice(0, end);
      value = quote === '"' ? unescapeDouble(inner) : inner;
    } else {
      // In an unquoted value, ` #` starts a comment.
      value = value.replace(/\s+#.*$/, "").trim();
      if (value.startsWith("#")) value = "";
    }
    result[key] = value;
  }
  return result;
}

function closingQuote(text: string, quote: string): number {
  for (let i = 0; i < text.length; i++) {
    if (quote === '"' && text[i] === "\\") i++;
    else if (text[i] === quote) return i;
  }
  return -1;
}

const ESCAPES: Record<string, string> = { n: "\n", r: "\r", t: "\t", '"': '"', "\\": "\\" };

function unescapeDouble(text: string): string {
  return text.replace(/\\(.)/g, (whole, char: string) => ESCAPES[char] ?? whole);
}

/** Reads and parses the `.env` file at `path`, or `undefined` when there is none. */
export async function readDotenv(path: string | URL): Promise<Record<string, string> | undefined> {
  try {
    return parseDotenv(await Deno.readTextFile(path));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw new Error(`Cannot read env file ${String(path)}: ${(error as Error).message}`);
  }
}

/**
 * The file's variables overlaid by `processEnv`: a variable set in the real
 * environment wins over the file, even when it is set to an empty string.
 */
export function mergeEnv(
  fileEnv: Readonly<Record<string, string>>,
  processEnv: Readonly<Record<string, string>>,
): Record<string, string> {
  return { ...fileEnv, ...processEnv };
}

/** The variable that chooses the env file of the CLI commands; empty means none. */
export const ENV_FILE_VARIABLE = "CLERK_EVENTS_ENV_FILE";

/** The environment the CLI commands run with, and where it came from. */
export interface LoadedEnv {
  readonly env: Record<string, string>;
  /** One line for the user, e.g. `Loaded 9 variables from /repo/.env`. */
  readonly note: string;
}

/**
 * Reads the env file named by `CLERK_EVENTS_ENV_FILE` in `processEnv` (or
 * `defaultPath` when that is unset) and overlays `processEnv` on it. An empty
 * `CLERK_EVENTS_ENV_FILE` skips the file; a missing file is not an error.
 */
export async function loadEnv(
  processEnv: Readonly<Record<string, string>>,
  defaultPath: string | URL,
): Promise<LoadedEnv> {
  const chosen: string | URL = processEnv[ENV_FILE_VARIABLE] ?? defaultPath;
  if (chosen === "") {
    return {
      env: { ...processEnv },
      note: `${ENV_FILE_VARIABLE} is empty: using the process environment only`,
    };
  }
  const shown = typeof chosen === "string" ? chosen : fileURLToPath(chosen);
  const fileEnv = await readDotenv(chosen);
  if (!fileEnv) {
    return {
      env: { ...processEnv },
      note: `No env file at ${shown}: using the process environment`,
    };
  }
  const count = Object.keys(fileEnv).length;
  return {
    env: mergeEnv(fileEnv, processEnv),
    note: `Loaded ${count} variable${count === 1 ? "" : "s"} from ${shown}` +
      " (the process environment wins)",
  };
}
