/**
 * Benchmark 2, for information: runs `deno bench` on verify_bench.ts and
 * reads its JSON report.
 */
import { REPO_ROOT } from "./_process.ts";
import { compare, num, type Row } from "./_report.ts";

interface BenchReport {
  benches: { name: string; results: { ok?: { avg: number } }[] }[];
}

/** Runs benchmark 2 and returns its rows. */
export async function verifyBenchmark(): Promise<Row[]> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "bench",
      "--allow-all",
      "--no-prompt",
      "--json",
      "--config",
      new URL("deno.json", REPO_ROOT).pathname,
      new URL("verify_bench.ts", import.meta.url).pathname,
    ],
    cwd: REPO_ROOT.pathname,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!output.success) {
    throw new Error(`Cannot run deno bench: ${new TextDecoder().decode(output.stderr)}`);
  }
  const report = JSON.parse(new TextDecoder().decode(output.stdout)) as BenchReport;
  const opsPerSecond = (name: string) => {
    const avg = report.benches.find((b) => b.name === name)?.results[0]?.ok?.avg;
    if (!avg) throw new Error(`Cannot find the result of "${name}" in deno bench's report`);
    return 1e9 / avg;
  };
  const webCrypto = opsPerSecond("WebCrypto HMAC verify");
  return [
    compare(
      "2. Verify one payload, ops/s: svix",
      opsPerSecond("svix Webhook.verify"),
      webCrypto,
      num(),
      undefined,
      "WebCrypto HMAC",
    ),
    compare(
      "2. Verify one payload, ops/s: project verifier (svix, every secret of a rotation)",
      opsPerSecond("project createVerifier (svix)"),
      webCrypto,
      num(),
      undefined,
      "WebCrypto HMAC",
    ),
  ];
}
