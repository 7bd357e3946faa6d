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
 * `svix-id`). A batch that fails is sent again event by event, so that one
 * event Inngest will not take cannot fail the others with it.
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
        if (items.length === 1) return items[0].reject(error);
        for (const item of items) send([item]);
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
