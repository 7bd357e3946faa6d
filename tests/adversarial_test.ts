/**
 * The adversarial corpus against `POST /clerk-events/webhook`: every case in
 * `tests/fixtures/adversarial/` gets the contract's answer, nothing that was
 * not verified and validated reaches Inngest, and the handler keeps
 * answering whatever it is sent.
 */
import assert from "node:assert/strict";
import { createApp } from "../functions/app.ts";
import { type AdversarialCase, buildCase, loadCorpus } from "./support/adversarial.ts";
import { signedRequest } from "./support/clerk.ts";
import { captureLogs, testEnv } from "./support/env.ts";
import { type EventApi, startEventApi } from "./support/event_api.ts";

const corpus = loadCorpus();
const total = corpus.reduce((sum, { cases }) => sum + cases.length, 0);

Deno.test("webhook answers every adversarial case as the contract says", async (t) => {
  assert.ok(total >= 50, `the corpus has ${total} cases, fewer than 50`);
  const api = startEventApi();
  const { logger } = captureLogs();
  const { handler } = createApp(testEnv({ INNGEST_EVENT_API_BASE_URL: api.url }), { logger });
  let answered = 0;
  try {
    for (const { theme, cases } of corpus) {
      for (const c of cases) {
        const passed = await t.step({
          name: `${theme}: ${c.name}`,
          fn: () => answersAsTheContractSays(c, handler, api),
          // The event API stand-in and its pooled connections outlive each step.
          sanitizeOps: false,
          sanitizeResources: false,
        });
        if (passed) answered += 1;
      }
    }

    await t.step("a correctly signed delivery after the whole corpus still gets 200", async () => {
      const before = api.accepted.length;
      const res = await handler(signedRequest(await fixtureText()));
      assert.equal(res.status, 200, await res.text());
      assert.equal(api.accepted.length, before + 1);
    });
  } finally {
    await api.close();
  }
  console.error(`adversarial cases: ${total}, answered as the contract says: ${answered}`);
  assert.equal(answered, total, "every case gets the contract's answer");
});

async function answersAsTheContractSays(
  c: AdversarialCase,
  handler: (req: Request) => Promise<Response>,
  api: EventApi,
): Promise<void> {
  const built = buildCase(c);
  const acceptedBefore = api.accepted.length;
  const requestsBefore = api.requests();
  let res: Response;
  try {
    res = await handler(built.request);
  } catch (error) {
    assert.fail(`The handler threw instead of answering: ${error}`);
  }
  assert.ok(res instanceof Response, "the handler answers with a Response");
  const text = await res.text();
  assert.equal(res.status, c.expect.status, `answered ${res.status} ${text}`);

  const forwarded = api.accepted.slice(acceptedBefore);
  if (res.status >= 200 && res.status < 300) {
    assert.equal(forwarded.length, 1, "exactly one event is forwarded");
    const [event] = forwarded;
    assert.equal(event.id, built.id, "the event id is the signed svix-id");
    assert.equal(event.name, c.expect.forwarded);
    assert.deepEqual(JSON.parse(text), { status: "accepted", id: built.id, name: event.name });
    assert.ok(built.text !== undefined, "a forwarded case has a body to compare with");
    const sent = JSON.parse(built.text);
    assert.deepEqual(event.data, sent.data, "data is forwarded unchanged");
    assert.equal(event.ts, sent.timestamp);
  } else {
    assert.equal(forwarded.length, 0, "nothing is forwarded");
    assert.equal(api.requests(), requestsBefore, "the event API is not even called");
  }
  if (c.expect.readAtMost !== undefined) {
    assert.ok(
      built.pulled() <= c.expect.readAtMost,
      `read ${built.pulled()} bytes of the body, at most ${c.expect.readAtMost} allowed`,
    );
  }
}

async function fixtureText(): Promise<string> {
  return await Deno.readTextFile(new URL("./fixtures/clerk/user.created.json", import.meta.url));
}
