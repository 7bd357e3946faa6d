/**
 * Says how long ago someone joined, from the onboarding delay, in the words
 * a person would use: "earlier today", "yesterday", "3 days ago".
 */
import { durationMs, HOUR_MS } from "../../util/duration.ts";

/**
 * When someone joined, seen `delay` after they did: "earlier today" up to
 * 6 hours, then "N hours ago", "yesterday" from 20 to 36 hours, "N days
 * ago" up to two weeks, "N weeks ago" up to two months, then "N months ago".
 */
export function joinedAgo(delay: string): string {
  const hours = durationMs(delay) / HOUR_MS;
  const days = hours / 24;
  if (hours < 6) return "earlier today";
  if (hours < 20) return `${Math.round(hours)} hours ago`;
  if (hours < 36) return "yesterday";
  if (days < 14) return `${Math.round(days)} days ago`;
  if (days < 60) return `${Math.round(days / 7)} weeks ago`;
  return `${Math.round(days / 30)} months ago`;
}
