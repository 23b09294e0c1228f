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

/** The predicates each row checks; those not listed in `holds` must be false. */
type Predicate = "fresh" | "swrWindow" | "servable" | "sieWindow";

interface Row {
  name: string;
  /** Default "metadata". */
  kind?: "metadata" | "artifact";
  age: number;
  policy: ReturnType<typeof policy>;
  holds: Predicate[];
}

const rows: Row[] = [
  {
    name: "artifact is always fresh",
    kind: "artifact",
    age: 1e12,
    policy: policy(HOUR, 0),
    holds: ["fresh", "servable", "sieWindow"],
  },
  {
    name: "ttl 0 is fresh forever",
    age: 1e12,
    policy: policy(0, 0),
    holds: ["fresh", "servable", "sieWindow"],
  },
  {
    name: "within ttl",
    age: HOUR - 1,
    policy: policy(HOUR, HOUR),
    holds: ["fresh", "servable", "sieWindow"],
  },
  { name: "exactly ttl is stale", age: HOUR, policy: policy(HOUR, 0), holds: [] },
  {
    name: "90 min with ttl 1h + swr 1h",
    age: 1.5 * HOUR,
    policy: policy(HOUR, HOUR),
    holds: ["swrWindow", "servable"],
  },
  { name: "3h beyond ttl 1h + swr 1h", age: 3 * HOUR, policy: policy(HOUR, HOUR), holds: [] },
  {
    name: "stale-if-error covers beyond swr",
    age: 3 * HOUR,
    policy: policy(HOUR, HOUR, 3 * HOUR),
    holds: ["sieWindow"],
  },
  { name: "swr 0 never within", age: 1.5 * HOUR, policy: policy(HOUR, 0), holds: [] },
  {
    name: "clock step back counts as new",
    age: -HOUR,
    policy: policy(HOUR, 0),
    holds: ["fresh", "servable", "sieWindow"],
  },
];

Deno.test("freshness table", async (t) => {
  for (const row of rows) {
    await t.step(row.name, () => {
      const { policy: p, holds } = row;
      const kind = row.kind ?? "metadata";
      const object = aged(row.age);
      const swrWindow = holds.includes("swrWindow");
      assert.equal(isFresh(kind, object, p, now), holds.includes("fresh"), `${row.name}: fresh`);
      assert.equal(
        isWithinStaleWhileRevalidate(kind, object, p, now),
        swrWindow,
        `${row.name}: swr`,
      );
      assert.equal(needsRevalidation(kind, object, p, now), swrWindow, `${row.name}: reval`);
      assert.equal(
        isServable(kind, object, p, now),
        holds.includes("servable"),
        `${row.name}: servable`,
      );
      assert.equal(
        isWithinStaleIfError(kind, object, p, now),
        holds.includes("sieWindow"),
        `${row.name}: sie`,
      );
    });
  }
});

Deno.test("freshness defaults", () => {
  assert.equal(DEFAULT_FRESHNESS.metadataTtlMs, 10 * 60 * 1000);
  assert.equal(DEFAULT_FRESHNESS.staleWhileRevalidateMs, 7 * 24 * HOUR);
  assert.equal(DEFAULT_FRESHNESS.staleIfErrorMs, 7 * 24 * HOUR);
  assert.equal(isServable("metadata", aged(6 * 24 * HOUR), DEFAULT_FRESHNESS, now), true);
  assert.equal(isServable("metadata", aged(8 * 24 * HOUR), DEFAULT_FRESHNESS, now), false);
});
