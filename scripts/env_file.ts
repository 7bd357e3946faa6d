/**
 * The local commands read `.env` through Deno itself: every task in
 * deno.json that needs settings runs with `--env-file=.env`, which loads the
 * file into the environment (a variable set in the shell wins) and only
 * warns when the file is missing. This module says, in one line, which of
 * the two happened, with what to do about it.
 */

/** The file the tasks pass to `--env-file`, relative to the repository. */
export const ENV_FILE = ".env";

/** One line for the user: whether `.env` exists in `root`, and what that means. */
export async function envFileNote(root: URL = new URL("../", import.meta.url)): Promise<string> {
  try {
    await Deno.stat(new URL(ENV_FILE, root));
    return "Settings: .env, with variables set in the shell winning over it";
  } catch {
    return "Settings: no .env file, so only the shell's environment " +
      "(cp .env.example .env gives working local defaults)";
  }
}

/** `args` without `--env-file` flags: for a child that is handed its environment whole. */
export function withoutEnvFile(args: readonly string[]): string[] {
  return args.filter((arg) => !arg.startsWith("--env-file"));
}
