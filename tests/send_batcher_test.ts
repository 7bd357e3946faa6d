/**
 * Webhooks that finish together share one request to Inngest's event API,
 * and each still answers 2xx only once Inngest accepted its own event.
 */
import assert from "node:assert/strict";
import { createApp } from "../functions/app.ts";
import { createSendBatcher, refusedContent } from "../functions/inngest/send_batcher.ts";
import { clerkPayload, newUserId, signedRequest } from "./support/clerk.ts";
import { captureLogs, testEnv } from "./support/env.ts";
import { startEventApi } from "./support/event_api.ts";

/** A sendMany double: records each call and settles it when the test says. */
function manualSendMany() {
  const calls: { events: string[]; accept: () => void; refuse: (error: Error) => void }[] = [];
  const sendMany = (events: string[]) =>
    new Promise<unknown>((resolve, reject) => {
      calls.push({ events, accept: () => resolve({ ids: events }), refuse: reject });
    });
  return { calls, sendMany };
}

/** Lets timers of zero and promise callbacks run (no I/O is involved). */
const tick = () => new Promise((resolve) => setTimeout(resolve, 5));

/** Which of `promises` have settled after a tick, and how. */
async function settled(promises: Promise<unknown>[]): Promise<string[]> {
  const states = promises.map(() => "pending");
  promises.forEach((p, i) => p.then(() => states[i] = "accepted", () => states[i] = "refused"));
  await tick();
  return states;
}

Deno.test("events handed over in the same turn go to Inngest in one request", async () => {
  const { calls, sendMany } = manualSendMany();
  const send = createSendBatcher(sendMany);
  const sends = ["a", "b", "c"].map((event) => send(event, 10));
  await tick();
  assert.equal(calls.length, 1, "one request for the three events");
  assert.deepEqual(calls[0].events, ["a", "b", "c"]);
  assert.deepEqual(await settled(sends), ["pending", "pending", "pending"]);
  calls[0].accept();
  assert.deepEqual(await settled(sends), ["accepted", "accepted", "accepted"]);
});

Deno.test("no event is reported accepted before Inngest accepted its request", async () => {
  const { calls, sendMany } = manualSendMany();
  const send = createSendBatcher(sendMany);
  const first = send("first", 10);
  await tick();
  const second = send("second", 10);
  await tick();
  assert.equal(calls.length, 2, "an event of a later turn goes in its own request");
  calls[1].accept();
  assert.deepEqual(await settled([first, second]), ["pending", "accepted"]);
  calls[0].accept();
  assert.deepEqual(await settled([first, second]), ["accepted", "accepted"]);
});

Deno.test("a batch whose content Inngest refuses is resent event by event, so only the bad event fails", async () => {
  const { calls, sendMany } = manualSendMany();
  const send = createSendBatcher(sendMany);
  const sends = ["good", "bad", "fine"].map((event) => send(event, 10));
  await tick();
  calls[0].refuse(new Error("Inngest API Error: 400 Cannot process event payload"));
  await tick();
  assert.deepEqual(calls.slice(1).map((call) => call.events), [["good"], ["bad"], ["fine"]]);
  calls[1].accept();
  calls[2].refuse(new Error("Inngest refused bad"));
  calls[3].accept();
  assert.deepEqual(await settled(sends), ["accepted", "refused", "accepted"]);
  await assert.rejects(sends[1], /Inngest refused bad/);
});

Deno.test("a batch that fails for another reason fails every event in it, without resending", async () => {
  const { calls, sendMany } = manualSendMany();
  const send = createSendBatcher(sendMany);
  const sends = ["a", "b"].map((event) => send(event, 10));
  await tick();
  calls[0].refuse(new Error("Inngest API Error: 500 Internal server error"));
  assert.deepEqual(await settled(sends), ["refused", "refused"]);
  assert.equal(calls.length, 1, "a server that is down gets no extra requests");
});

Deno.test("a refused single event fails at once, without a second request", async () => {
  const { calls, sendMany } = manualSendMany();
  const send = createSendBatcher(sendMany);
  const only = send("only", 10);
  await tick();
  calls[0].refuse(new Error("Inngest API Error: 400 Cannot process event payload"));
  await assert.rejects(only, /Cannot process/);
  assert.equal(calls.length, 1);
});

Deno.test("a batch holds at most maxEvents events and maxChars characters of bodies", async (t) => {
  await t.step("by count", async () => {
    const { calls, sendMany } = manualSendMany();
    const send = createSendBatcher(sendMany, { maxEvents: 2 });
    for (const event of ["a", "b", "c", "d", "e"]) send(event, 1);
    await tick();
    assert.deepEqual(calls.map((call) => call.events), [["a", "b"], ["c", "d"], ["e"]]);
  });
  await t.step("by size; a large event goes alone", async () => {
    const { calls, sendMany } = manualSendMany();
    const send = createSendBatcher(sendMany, { maxChars: 100 });
    send("a", 40);
    send("b", 40);
    send("c", 40);
    send("huge", 500);
    send("d", 10);
    await tick();
    assert.deepEqual(calls.map((call) => call.events), [["a", "b"], ["c"], ["huge"], ["d"]]);
  });
});

Deno.test("a synchronous throw of sendMany refuses the events instead of escaping", async () => {
  const send = createSendBatcher<string>(() => {
    throw new Error("Cannot send: no client");
  });
  await assert.rejects(send("a", 1), /no client/);
});

async function concurrentWebhooks(fault: (n: number) => "none" | "error500") {
  const api = startEventApi();
  const { logger } = captureLogs();
  const { handler } = createApp(testEnv({ INNGEST_EVENT_API_BASE_URL: api.url }), { logger });
  try {
    api.fault = fault;
    const users = Array.from({ length: 20 }, () => newUserId());
    const requests = users.map((id) => signedRequest(clerkPayload("user.created", { id })));
    const ids = requests.map((req) => req.headers.get("svix-id"));
    const answers = await Promise.all(requests.map((req) => handler(req)));
    const bodies = await Promise.all(answers.map((res) => res.json()));
    assert.deepEqual(answers.map((res) => res.status), users.map(() => 200));
    assert.deepEqual(bodies.map((body) => body.id), ids, "each answer names its own event");
    assert.deepEqual(
      api.accepted.map((event) => event.id).sort(),
      [...ids].sort(),
      "every event accepted exactly once",
    );
    assert.deepEqual(api.accepted.map((event) => event.data.id).sort(), [...users].sort());
    return { events: users.length, requests: api.requests() };
  } finally {
    await api.close();
  }
}

Deno.test("concurrent webhooks share requests to the event API, each with its own answer", async () => {
  const { events, requests } = await concurrentWebhooks(() => "none");
  assert.ok(requests < events, `${requests} requests to the event API for ${events} events`);
});

Deno.test("concurrent webhooks all get 200 when the event API refuses their shared request once", async () => {
  // The first request fails: its events are resent one by one.
  await concurrentWebhooks((n) => n === 1 ? "error500" : "none");
});

Deno.test("only Inngest's answers about the content of a request count as refused content", () => {
  assert.equal(refusedContent(new Error("Inngest API Error: 413 Event payload too large")), true);
  assert.equal(
    refusedContent(new Error("Inngest API Error: 400 Cannot process event payload")),
    true,
  );
  assert.equal(refusedContent(new Error("Inngest API Error: 401 Event key Not Found")), false);
  assert.equal(refusedContent(new Error("Inngest API Error: 500 Internal server error")), false);
  assert.equal(refusedContent(new DOMException("No answer within 5000 ms", "TimeoutError")), false);
  assert.equal(refusedContent("Inngest API Error: 400"), false);
});
