import assert from "node:assert/strict";
import { matchRoute, pathOf } from "../functions/http/routes.ts";

Deno.test("pathOf gives the pathname the URL parser gives, for every shape of request URL", () => {
  const urls = [
    "http://localhost/clerk-events/webhook",
    "http://127.0.0.1:54321/functions/v1/clerk-events/webhook?x=1",
    "https://edge-runtime.supabase.com/clerk-events/inngest?fnId=a/b&stepId=c#frag",
    "http://localhost/clerk-events/health#/not/a/path",
    "http://localhost/clerk-events/../clerk-events/webhook",
    "http://localhost/clerk%2Devents/web%68ook",
    "http://user:pa%2Fss@localhost:8000/a//b/?q=/c",
    "http://localhost",
    "http://localhost?only=query",
    "http://localhost/ünïcode path/",
    "HTTP://LOCALHOST/Clerk-Events/Webhook",
  ];
  for (const raw of urls) {
    const url = new Request(raw).url; // What a handler sees: serialised by the URL parser.
    assert.equal(pathOf(url), new URL(url).pathname, raw);
  }
});

Deno.test("routes match on the path of the request URL only", () => {
  assert.equal(
    matchRoute(pathOf("http://x/clerk-events/webhook?next=/clerk-events/health")),
    "webhook",
  );
  assert.equal(matchRoute(pathOf("http://x/other?/clerk-events/webhook")), undefined);
});
