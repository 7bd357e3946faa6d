/**
 * The results table: one row per figure, each a ratio of ours to a baseline
 * measured in the same run, with the target and whether it was met.
 */

/** One row of the results table. */
export interface Row {
  readonly figure: string;
  readonly ours: string;
  readonly baseline: string;
  readonly ratio: string;
  readonly target: string;
  /** `false` when a target was missed; `undefined` for information only. */
  readonly met?: boolean;
}

/** A target on the ratio ours / baseline, or on ours itself. */
export interface Target {
  readonly on: "ratio" | "ours";
  readonly op: ">=" | "<=";
  readonly value: number;
  readonly unit?: string;
}

/** Builds a row comparing two numbers, checking `target` when given. */
export function compare(
  figure: string,
  ours: number,
  baseline: number,
  format: (value: number) => string,
  target?: Target,
  baselineName = "",
): Row {
  const ratio = ours / baseline;
  let met: boolean | undefined;
  let targetText = "information";
  if (target) {
    const subject = target.on === "ratio" ? ratio : ours;
    met = target.op === ">=" ? subject >= target.value : subject <= target.value;
    const limit = target.on === "ratio"
      ? `${target.value}x`
      : `${target.value} ${target.unit ?? ""}`;
    targetText = `${target.op.replace(">=", "≥").replace("<=", "≤")} ${limit.trim()}: ${
      met ? "met" : "**missed**"
    }`;
  }
  return {
    figure,
    ours: format(ours),
    baseline: baselineName ? `${format(baseline)} (${baselineName})` : format(baseline),
    ratio: Number.isFinite(ratio) ? `${ratio.toFixed(2)}x` : "n/a",
    target: targetText,
    met,
  };
}

/** Formats a number with `digits` decimals and thousands separators. */
export function num(digits = 0): (value: number) => string {
  return (value) =>
    Number.isFinite(value)
      ? value.toLocaleString("en-US", {
        minimumFractionDigits: digits,
        maximumFractionDigits: digits,
      })
      : "n/a";
}

/** Renders the rows as a markdown table. */
export function markdownTable(rows: readonly Row[]): string {
  const header = ["figure", "ours", "baseline", "ratio", "target"];
  const lines = rows.map((row) =>
    `| ${[row.figure, row.ours, row.baseline, row.ratio, row.target].join(" | ")} |`
  );
  return [`| ${header.join(" | ")} |`, `| ${header.map(() => "---").join(" | ")} |`, ...lines]
    .join("\n");
}
