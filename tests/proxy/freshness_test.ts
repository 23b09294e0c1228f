import assert from "node:assert/strict";
import {
  DEFAULT_FRESHNESS,
  isFresh,
  isServable,
  isWithinStaleIfError,
  isWithinStaleWhileRevalidate,
  needsRevalidation,
} from "../../src/proxy/freshness.ts";

const HOUR = 60 * 60 * 1000;
const now = Date.parse("2026-01-01T12:00:00Z");
const aged = (ms: number) => ({ fetchedAt: new Date(now - ms) });
const policy = (ttl: number, swr: number, sie = 0) => ({
  metadataTtlMs: ttl,
  staleWhileRevalidateMs: swr,
  staleIfErrorMs: sie,
});

Deno.test("freshness table", () => {
  const rows: Array<{
    name: string;
    kind: "metadata" | "artifact";
    age: number;
    ttl: number;
    swr: number;
    sie: number;
    fresh: boolean;
    swrWindow: boolean;
    servable: boolean;
    sieWindow: boolean;
  }> = [
    {
      name: "artifact is always fresh",
      kind: "artifact",
      age: 1e12,
      ttl: HOUR,
      swr: 0,
      sie: 0,
      fresh: true,
      swrWindow: false,
      servable: true,
      sieWindow: true,
    },
    {
      name: "ttl 0 is fresh forever",
      kind: "metadata",
      age: 1e12,
      ttl: 0,
      swr: 0,
      sie: 0,
      fresh: true,
      swrWindow: false,
      servable: true,
      sieWindow: true,
    },
    {
      name: "within ttl",
      kind: "metadata",
      age: HOUR - 1,
      ttl: HOUR,
      swr: HOUR,
      sie: 0,
      fresh: true,
      swrWindow: false,
      servable: true,
      sieWindow: true,
    },
    {
      name: "exactly ttl is stale",
      kind: "metadata",
      age: HOUR,
      ttl: HOUR,
      swr: 0,
      sie: 0,
      fresh: false,
      swrWindow: false,
      servable: false,
      sieWindow: false,
    },
    {
      name: "90 min with ttl 1h + swr 1h",
      kind: "metadata",
      age: 1.5 * HOUR,
      ttl: HOUR,
      swr: HOUR,
      sie: 0,
      fresh: false,
      swrWindow: true,
      servable: true,
      sieWindow: false,
    },
    {
      name: "3h beyond ttl 1h + swr 1h",
      kind: "metadata",
      age: 3 * HOUR,
      ttl: HOUR,
      swr: HOUR,
      sie: 0,
      fresh: false,
      swrWindow: false,
      servable: false,
      sieWindow: false,
    },
    {
      name: "stale-if-error covers beyond swr",
      kind: "metadata",
      age: 3 * HOUR,
      ttl: HOUR,
      swr: HOUR,
      sie: 3 * HOUR,
      fresh: false,
      swrWindow: false,
      servable: false,
      sieWindow: true,
    },
    {
      name: "swr 0 never within",
      kind: "metadata",
      age: 1.5 * HOUR,
      ttl: HOUR,
      swr: 0,
      sie: 0,
      fresh: false,
      swrWindow: false,
      servable: false,
      sieWindow: false,
    },
    {
      name: "clock step back counts as new",
      kind: "metadata",
      age: -HOUR,
      ttl: HOUR,
      swr: 0,
      sie: 0,
      fresh: true,
      swrWindow: false,
      servable: true,
      sieWindow: true,
    },
  ];
  for (const row of rows) {
    const p = policy(row.ttl, row.swr, row.sie);
    const object = aged(row.age);
    assert.equal(isFresh(row.kind, object, p, now), row.fresh, `${row.name}: fresh`);
    assert.equal(
      isWithinStaleWhileRevalidate(row.kind, object, p, now),
      row.swrWindow,
      `${row.name}: swr`,
    );
    assert.equal(needsRevalidation(row.kind, object, p, now), row.swrWindow, `${row.name}: reval`);
    assert.equal(isServable(row.kind, object, p, now), row.servable, `${row.name}: servable`);
    assert.equal(isWithinStaleIfError(row.kind, object, p, now), row.sieWindow, `${row.name}: sie`);
  }
});

Deno.test("freshness defaults", () => {
  assert.equal(DEFAULT_FRESHNESS.metadataTtlMs, 10 * 60 * 1000);
  assert.equal(DEFAULT_FRESHNESS.staleWhileRevalidateMs, 7 * 24 * HOUR);
  assert.equal(DEFAULT_FRESHNESS.staleIfErrorMs, 7 * 24 * HOUR);
  assert.equal(isServable("metadata", aged(6 * 24 * HOUR), DEFAULT_FRESHNESS, now), true);
  assert.equal(isServable("metadata", aged(8 * 24 * HOUR), DEFAULT_FRESHNESS, now), false);
});
