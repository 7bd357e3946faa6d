/**
 * The results table: one row per figure, each a ratio of ours to a baseline
 * measured in the same run, with the target and whether it was met.
 *
 * A figure is either one number or the values of several runs. Several runs
 * are reported as their median and range, `7,684 (7,501–7,790)`; the ratio
 * is the median of the per-run ratios when both sides have the same number
 * of runs (runs taken in alternation, so that each pair saw the same
 * machine), with its range, and targets are checked on medians.
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

/** One measurement, or the values of several runs of it. */
export type Figure = number | readonly number[];

/** The median and range of a figure's runs. */
export interface Spread {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly runs: number;
}

/** The median, lowest and highest of `figure`'s runs (NaN when empty). */
export function spread(figure: Figure): Spread {
  const values = (typeof figure === "number" ? [figure] : [...figure]).sort((a, b) => a - b);
  const mid = Math.floor(values.length / 2);
  const median = values.length === 0
    ? NaN
    : values.length % 2
    ? values[mid]
    : (values[mid - 1] + values[mid]) / 2;
  return {
    median,
    min: values[0] ?? NaN,
    max: values[values.length - 1] ?? NaN,
    runs: values.length,
  };
}

/**
 * The ratios ours / baseline: run by run when both have the same number of
 * runs (paired in the order they were taken), else of the medians.
 */
export function ratios(ours: Figure, baseline: Figure): Spread {
  if (typeof ours !== "number" && typeof baseline !== "number" && ours.length === baseline.length) {
    return spread(ours.map((value, i) => value / baseline[i]));
  }
  return spread(spread(ours).median / spread(baseline).median);
}

/** Formats a figure as its median, with the range when it has several runs. */
export function formatFigure(figure: Figure, format: (value: number) => string): string {
  return formatSpread(spread(figure), format);
}

function formatSpread({ median, min, max, runs }: Spread, format: (value: number) => string) {
  return runs > 1 ? `${format(median)} (${format(min)}–${format(max)})` : format(median);
}

/**
 * Builds a row comparing two figures, checking `target` when given. Each
 * may be one number or the values of several runs (see the module doc).
 */
export function compare(
  figure: string,
  ours: Figure,
  baseline: Figure,
  format: (value: number) => string,
  target?: Target,
  baselineName = "",
): Row {
  const ratio = ratios(ours, baseline);
  let met: boolean | undefined;
  let targetText = "information";
  if (target) {
    const subject = target.on === "ratio" ? ratio.median : spread(ours).median;
    met = target.op === ">=" ? subject >= target.value : subject <= target.value;
    const limit = target.on === "ratio"
      ? `${target.value}x`
      : `${target.value} ${target.unit ?? ""}`;
    targetText = `${target.op.replace(">=", "≥").replace("<=", "≤")} ${limit.trim()}: ${
      met ? "met" : "**missed**"
    }`;
  }
  const baselineText = formatFigure(baseline, format);
  return {
    figure,
    ours: formatFigure(ours, format),
    baseline: baselineName ? `${baselineText} (${baselineName})` : baselineText,
    ratio: Number.isFinite(ratio.median) ? formatSpread(ratio, times) : "n/a",
    target: targetText,
    met,
  };
}

const times = (value: number) => `${value.toFixed(2)}x`;

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
