import assert from "node:assert/strict";
import { SingleFlight } from "../../src/proxy/singleflight.ts";

Deno.test("SingleFlight runs the work once for concurrent callers", async () => {
  const flights = new SingleFlight<number>();
  let calls = 0;
  const { promise: gate, resolve: open } = Promise.withResolvers<void>();
  const work = async () => {
    calls++;
    await gate;
    return 42;
  };
  const results = Array.from({ length: 5 }, () => flights.run("k", work));
  assert.equal(flights.has("k"), true);
  assert.equal(flights.size, 1);
  open();
  assert.deepEqual(await Promise.all(results), [42, 42, 42, 42, 42]);
  assert.equal(calls, 1);
  assert.equal(flights.has("k"), false);
  assert.equal(await flights.run("k", work), 42);
  assert.equal(calls, 2);
});

Deno.test("SingleFlight keys are independent and errors are shared", async () => {
  const flights = new SingleFlight<string>();
  const a = flights.run("a", () => Promise.resolve("A"));
  const b1 = flights.run("b", () => Promise.reject(new Error("Boom")));
  const b2 = flights.run("b", () => Promise.resolve("never"));
  assert.equal(await a, "A");
  await assert.rejects(b1, /Boom/);
  await assert.rejects(b2, /Boom/);
});

Deno.test("SingleFlight waiter can stop waiting without cancelling the shared work", async () => {
  const flights = new SingleFlight<string>();
  const { promise: gate, resolve: open } = Promise.withResolvers<void>();
  let finished = false;
  const work = async () => {
    await gate;
    finished = true;
    return "done";
  };
  const controller = new AbortController();
  const leaving = flights.run("k", work, controller.signal);
  const staying = flights.run("k", work);
  controller.abort(new Error("Client left"));
  await assert.rejects(leaving, /Client left/);
  assert.equal(finished, false);
  open();
  assert.equal(await staying, "done");
  assert.equal(finished, true);
  await flights.settled();
  const aborted = new AbortController();
  aborted.abort(new Error("Already"));
  await assert.rejects(flights.run("z", () => Promise.resolve("x"), aborted.signal), /Already/);
  await flights.settled();
});
