/**
 * Says how long ago someone joined, from the onboarding delay, in the words
 * a person would use: "earlier today", "yesterday", "3 days ago".
 */

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/** Milliseconds in an Inngest duration such as `3d`, `30m` or `1d12h`. */
export function durationMs(duration: string): number {
  const parts = [...duration.matchAll(/(\d+)(ms|s|m|h|d|w)/g)];
  if (!parts.length || parts.map((part) => part[0]).join("") !== duration) {
    throw new RangeError(`Cannot read duration "${duration}": expected e.g. 3d, 12h or 30m`);
  }
  return parts.reduce((total, [, count, unit]) => total + Number(count) * UNIT_MS[unit], 0);
}

/**
 * When someone joined, seen `delay` after they did: "earlier today" up to
 * 6 hours, then "N hours ago", "yesterday" from 20 to 36 hours, "N days
 * ago" up to two weeks, "N weeks ago" up to two months, then "N months ago".
 */
export function joinedAgo(delay: string): string {
  const hours = durationMs(delay) / UNIT_MS.h;
  const days = hours / 24;
  if (hours < 6) return "earlier today";
  if (hours < 20) return `${Math.round(hours)} hours ago`;
  if (hours < 36) return "yesterday";
  if (days < 14) return `${Math.round(days)} days ago`;
  if (days < 60) return `${Math.round(days / 7)} weeks ago`;
  return `${Math.round(days / 30)} months ago`;
}
