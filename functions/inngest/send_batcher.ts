/**
 * Sends the events that webhooks hand over at the same moment as one
 * `inngest.send([...])`: one request to Inngest's event API, and one pass
 * through the SDK, instead of one per webhook. Under load, this request was
 * the largest cost of a webhook (the SDK's serializer, its retry machinery,
 * the outgoing fetch).
 *
 * Nothing about a single event changes: its promise resolves only once
 * Inngest has accepted the request that carried it, so a webhook still
 * answers 2xx only for an accepted event, and the event keeps its id (the
 * `svix-id`). A batch whose content Inngest refuses is sent again event by
 * event, so that one event Inngest will not take cannot fail the others with
 * it; a batch that fails otherwise (Inngest down, slow or refusing the key)
 * fails every event in it, as separate sends would have, and Svix retries
 * each webhook on its own.
 */

/** Options for {@link createSendBatcher}. */
export interface SendBatcherOptions {
  /** Most events in one request. Default 50. */
  readonly maxEvents?: number;
  /**
   * Most characters of event bodies in one request (an event larger than
   * this goes alone). Default 64 Ki: a batch's request stays smaller than
   * one event at the webhook's own body limit.
   */
  readonly maxChars?: number;
  /**
   * Whether a batch that failed with `error` is worth resending event by
   * event. Default: {@link refusedContent}.
   */
  readonly split?: (error: unknown) => boolean;
}

/**
 * Whether Inngest's event API answered that it cannot take the content of a
 * request (the SDK's `Inngest API Error: <status> ...` for 400, 406, 409,
 * 412, 413 or 422): one event of a batch may be the cause.
 */
export function refusedContent(error: unknown): boolean {
  return error instanceof Error &&
    /^Inngest API Error: (400|406|409|412|413|422)\b/.test(error.message);
}

interface Pending<E> {
  readonly event: E;
  readonly resolve: (value: unknown) => void;
  readonly reject: (reason: unknown) => void;
}

/**
 * Wraps `sendMany` (e.g. `(events) => inngest.send(events)`) into a send of
 * one event of `size` characters, which joins every event handed over in
 * the same turn of the event loop.
 */
export function createSendBatcher<E>(
  sendMany: (events: E[]) => Promise<unknown>,
  options: SendBatcherOptions = {},
): (event: E, size?: number) => Promise<unknown> {
  const maxEvents = options.maxEvents ?? 50;
  const maxChars = options.maxChars ?? 64 * 1024;
  const split = options.split ?? refusedContent;
  let batch: Pending<E>[] = [];
  let chars = 0;
  let scheduled: ReturnType<typeof setTimeout> | undefined;

  const flush = () => {
    clearTimeout(scheduled);
    scheduled = undefined;
    const sending = batch;
    batch = [];
    chars = 0;
    if (sending.length) send(sending);
  };

  const send = (items: Pending<E>[]) => {
    let sending: Promise<unknown>;
    try {
      sending = sendMany(items.map((item) => item.event));
    } catch (error) {
      sending = Promise.reject(error);
    }
    sending.then(
      (result) => {
        for (const item of items) item.resolve(result);
      },
      (error) => {
        if (items.length > 1 && split(error)) {
          for (const item of items) send([item]);
        } else {
          for (const item of items) item.reject(error);
        }
      },
    );
  };

  return (event, size = 0) =>
    new Promise((resolve, reject) => {
      if (batch.length && (batch.length >= maxEvents || chars + size > maxChars)) flush();
      batch.push({ event, resolve, reject });
      chars += size;
      // After the current turn, so that webhooks finishing together share it.
      scheduled ??= setTimeout(flush, 0);
    });
}
