/**
 * One benchmark run on its own, with the same report as `deno task bench`:
 * progress lines on stderr, the markdown table on stdout and in
 * `.bench/<file>`, every server stopped at the end.
 */
import { markdownTable, type Row } from "./_report.ts";
import { REPO_ROOT, stopAll } from "./_process.ts";

/**
 * Runs `bench` alone and reports its rows under `title`, in `.bench/<file>`;
 * `note` follows the line that says when and where it ran.
 */
export async function runAlone(
  title: string,
  file: string,
  bench: (quick: boolean, progress: (line: string) => void) => Promise<Row[]>,
  note = "",
): Promise<void> {
  const quick = Deno.args.includes("--quick");
  if (!Deno.env.get("TEST_DATABASE_URL")) {
    Deno.env.set("TEST_DATABASE_URL", "postgresql://postgres:postgres@127.0.0.1:5432/postgres");
  }
  const started = performance.now();
  const progress = (line: string) => {
    const seconds = ((performance.now() - started) / 1000).toFixed(0).padStart(4);
    console.error(`[bench ${seconds}s] ${line}`);
  };
  let rows;
  try {
    rows = await bench(quick, progress);
  } finally {
    await stopAll();
  }
  const missed = rows.filter((row) => row.met === false).map((row) => row.figure);
  const report = [
    `# ${title}`,
    "",
    `${
      new Date().toISOString()
    }, Deno ${Deno.version.deno}, ${navigator.hardwareConcurrency} CPUs` +
    `${quick ? ", quick run (not comparable)" : ""}.${note ? ` ${note}` : ""}`,
    "",
    markdownTable(rows),
    missed.length ? `\nTargets missed: ${missed.join("; ")}\n` : "\nAll targets met.\n",
  ].join("\n");
  console.log(report);
  const dir = new URL(".bench/", REPO_ROOT);
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(new URL(file, dir), report);
}
