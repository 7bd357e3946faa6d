/**
 * What this app relies on in the Inngest SDK beyond its documented API,
 * pinned to the version in import_map.json. Each test names the version and
 * says what to revisit when an upgrade breaks it:
 *
 * - `createInngestClient` (functions/inngest/client.ts) freezes the
 *   client's `headers`, which the SDK recomputes from the whole process
 *   environment on every send (38% of the webhook's CPU in the ingress
 *   benchmark);
 * - `refusedContent` (functions/inngest/send_batcher.ts) reads the status
 *   out of the SDK's error text to tell a refused batch from an outage.
 */
import assert from "node:assert/strict";
import { Inngest } from "inngest";
import { createInngestClient } from "../functions/inngest/client.ts";
import { refusedContent } from "../functions/inngest/send_batcher.ts";
import { PACKAGE_VERSIONS } from "../functions/health/versions.ts";
import { captureLogs } from "./support/env.ts";

const SDK = `inngest@${PACKAGE_VERSIONS.inngest}`;

/** A client whose every request is answered by `answer`; `seen` keeps each request's headers. */
function clientAnswering(answer: (n: number) => Response) {
  const seen: Headers[] = [];
  const client = createInngestClient({
    settings: {
      mode: "cloud",
      eventKey: "test-event-key",
      signingKey: "signkey-test-0123456789abcdef",
      env: { INNGEST_EVENT_API_BASE_URL: "http://inngest.invalid/" },
    } as unknown as Parameters<typeof createInngestClient>[0]["settings"],
    logger: captureLogs().logger,
    fetch: (input, init) => {
      seen.push(new Headers(init?.headers ?? (input instanceof Request ? input.headers : {})));
      return Promise.resolve(answer(seen.length));
    },
  });
  return { client, seen };
}

Deno.test(`${SDK}: the client's headers are a getter that createInngestClient can freeze`, async () => {
  const descriptor = Object.getOwnPropertyDescriptor(Inngest.prototype, "headers");
  assert.ok(
    descriptor?.get,
    `${SDK} no longer defines Inngest.prototype.headers as a getter: revisit the ` +
      `Object.defineProperty(client, "headers") line of functions/inngest/client.ts`,
  );
  const { client, seen } = clientAnswering(() => Response.json({ ids: ["1"], status: 200 }));
  const own = Object.getOwnPropertyDescriptor(client, "headers");
  assert.ok(own && "value" in own, "createInngestClient froze the headers as a value");
  assert.deepEqual(own.value, descriptor.get.call(client), "the frozen headers are the SDK's own");
  await client.send({ name: "test/contract", data: {} });
  assert.equal(seen.length, 1);
  for (const [name, value] of Object.entries(own.value as Record<string, string>)) {
    assert.equal(
      seen[0].get(name),
      value,
      `${SDK} no longer sends client.headers with each event (${name}): the frozen copy is dead`,
    );
  }
});

Deno.test(`${SDK}: a refused send's error says its status where refusedContent reads it`, async (t) => {
  for (const [status, refused] of [[400, true], [413, true], [422, true], [401, false]] as const) {
    await t.step(`${status}`, async () => {
      const { client } = clientAnswering(() =>
        Response.json({ error: "refused", status }, { status })
      );
      const error = await client.send({ name: "test/contract", data: {} }).then(
        () => undefined,
        (e) => e,
      );
      assert.ok(error instanceof Error, `${SDK} rejected the send`);
      assert.equal(
        refusedContent(error),
        refused,
        `${SDK} words a ${status} as "${error.message}": revisit refusedContent in ` +
          `functions/inngest/send_batcher.ts`,
      );
    });
  }
});
