/**
 * Reads a `.env` file the way the tasks do: through Deno's own
 * `--env-file`, in a child with an otherwise empty environment, so that the
 * tests see exactly what `deno task dev` would.
 */
import { fileURLToPath } from "node:url";

/** The variables `--env-file=<path>` loads. */
export async function readEnvFile(path: URL): Promise<Record<string, string>> {
  const loaded = await childEnv([`--env-file=${fileURLToPath(path)}`]);
  // What the runtime sets by itself (npm's deno shim sets PATH, for one).
  const baseline = await childEnv([]);
  return Object.fromEntries(Object.entries(loaded).filter(([name]) => !(name in baseline)));
}

async function childEnv(flags: string[]): Promise<Record<string, string>> {
  const denoDir = Deno.env.get("DENO_DIR");
  const { success, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["eval", ...flags, "console.log(JSON.stringify(Deno.env.toObject()))"],
    clearEnv: true,
    env: denoDir ? { DENO_DIR: denoDir } : {},
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!success) {
    throw new Error(`Cannot read the environment: ${new TextDecoder().decode(stderr)}`);
  }
  return JSON.parse(new TextDecoder().decode(stdout));
}
