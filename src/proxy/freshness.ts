/**
 * Freshness rules for cached objects (pure functions; the clock is a parameter).
 *
 * - Artifacts are immutable: always fresh.
 * - Metadata is fresh while `age < metadataTtlMs` (or forever when `metadataTtlMs <= 0`).
 * - Stale metadata within `metadataTtlMs + staleWhileRevalidateMs` is servable at once, and a
 *   background revalidation replaces it.
 * - Past that, the object is refetched synchronously; when the refetch fails and the object is
 *   within `metadataTtlMs + staleIfErrorMs`, the stale copy is served instead of the error.
 *
 * @module
 */

import type { RouteKind } from "./route.ts";

/** Freshness windows in milliseconds. */
export interface FreshnessPolicy {
  /** How long metadata is fresh; `<= 0` means forever. */
  metadataTtlMs: number;
  /** How long past the TTL stale metadata is still served while it is revalidated. */
  staleWhileRevalidateMs: number;
  /** How long past the TTL stale metadata may replace a failed refetch. */
  staleIfErrorMs: number;
}

/**
 * Defaults: metadata is fresh for 10 minutes (new provider and module versions show up quickly),
 * then served stale while revalidating for 7 days, and kept as a fallback for upstream outages
 * for 7 days.
 */
export const DEFAULT_FRESHNESS: Readonly<FreshnessPolicy> = Object.freeze({
  metadataTtlMs: 10 * 60 * 1000,
  staleWhileRevalidateMs: 7 * 24 * 60 * 60 * 1000,
  staleIfErrorMs: 7 * 24 * 60 * 60 * 1000,
});

/** The part of an object's metadata that freshness looks at. */
export interface Dated {
  /** When the object was fetched. */
  fetchedAt: Date;
}

/**
 * Age of an object in milliseconds (never negative, so a clock step back counts as brand new).
 *
 * @param object The object's metadata.
 * @param now Current time in epoch milliseconds.
 * @returns Age in milliseconds.
 */
export function ageMs(object: Dated, now: number): number {
  return Math.max(0, now - object.fetchedAt.getTime());
}

/**
 * Whether an object is fresh (serve without any upstream contact).
 *
 * @param kind The route's kind (the route decides, not the sidecar).
 * @param object The object's metadata.
 * @param policy Freshness windows.
 * @param now Current time in epoch milliseconds.
 * @returns `true` for artifacts, and for metadata younger than the TTL or when the TTL is `<= 0`.
 */
export function isFresh(
  kind: RouteKind,
  object: Dated,
  policy: FreshnessPolicy,
  now: number,
): boolean {
  if (kind !== "metadata") return true;
  if (policy.metadataTtlMs <= 0) return true;
  return ageMs(object, now) < policy.metadataTtlMs;
}

/**
 * Whether stale metadata is still inside the stale-while-revalidate window.
 *
 * @param kind The route's kind.
 * @param object The object's metadata.
 * @param policy Freshness windows.
 * @param now Current time in epoch milliseconds.
 * @returns `true` when the object is stale but younger than TTL + SWR.
 */
export function isWithinStaleWhileRevalidate(
  kind: RouteKind,
  object: Dated,
  policy: FreshnessPolicy,
  now: number,
): boolean {
  if (kind !== "metadata" || policy.staleWhileRevalidateMs <= 0) return false;
  if (isFresh(kind, object, policy, now)) return false;
  return ageMs(object, now) < policy.metadataTtlMs + policy.staleWhileRevalidateMs;
}

/**
 * Whether an object may be served from the store right now (fresh or within SWR).
 *
 * @param kind The route's kind.
 * @param object The object's metadata.
 * @param policy Freshness windows.
 * @param now Current time in epoch milliseconds.
 * @returns `true` when servable without waiting for upstream.
 */
export function isServable(
  kind: RouteKind,
  object: Dated,
  policy: FreshnessPolicy,
  now: number,
): boolean {
  return isFresh(kind, object, policy, now) ||
    isWithinStaleWhileRevalidate(kind, object, policy, now);
}

/**
 * Whether serving this object should also start a background revalidation.
 *
 * @param kind The route's kind.
 * @param object The object's metadata.
 * @param policy Freshness windows.
 * @param now Current time in epoch milliseconds.
 * @returns `true` for stale metadata inside the SWR window.
 */
export function needsRevalidation(
  kind: RouteKind,
  object: Dated,
  policy: FreshnessPolicy,
  now: number,
): boolean {
  return isWithinStaleWhileRevalidate(kind, object, policy, now);
}

/**
 * Whether a stale object may be served in place of a failed refetch.
 *
 * @param kind The route's kind.
 * @param object The object's metadata.
 * @param policy Freshness windows.
 * @param now Current time in epoch milliseconds.
 * @returns `true` for metadata younger than TTL + stale-if-error (and for artifacts, which never expire).
 */
export function isWithinStaleIfError(
  kind: RouteKind,
  object: Dated,
  policy: FreshnessPolicy,
  now: number,
): boolean {
  if (isFresh(kind, object, policy, now)) return true;
  if (policy.staleIfErrorMs <= 0) return false;
  return ageMs(object, now) < policy.metadataTtlMs + policy.staleIfErrorMs;
}
