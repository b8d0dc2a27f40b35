import { linkFromTraceparent, SpanKind, withSyncSpan } from '@cortex/telemetry';

/**
 * Runs `deliver` (an event of memory's feed handed to this replica's open streams) in a `feed
 * deliver` span that links to the span that stored the input, which the feed item names in its
 * `traceparent` (memory's span for the storing request, in the trace of the `POST /input`).
 *
 * A link, not a child: delivery is asynchronous fan-out (every replica delivers each event, to
 * any number of streams, after the storing request may have been answered), which OpenTelemetry's
 * messaging conventions model as a consumer span of its own trace linked to the producer's. A
 * child would hang a span per replica under a request trace that has ended, and make that trace's
 * shape depend on how many replicas and streams there are.
 *
 * Call it only with tracing on (the caller tests `tracingOn()`); an item without a traceparent
 * (stored with tracing off, or a failed task) is delivered without a span: a trace of one span
 * linked to nothing would only be noise.
 */
export function deliverTraced(
  item: { type: string; seq: number },
  traceparent: unknown,
  streams: number,
  deliver: () => void,
): void {
  const links = typeof traceparent === 'string' ? linkFromTraceparent(traceparent) : [];
  if (links.length === 0) {
    deliver();
    return;
  }
  withSyncSpan(
    'feed deliver',
    {
      kind: SpanKind.CONSUMER,
      root: true,
      links,
      attributes: { 'cortex.feed.seq': item.seq, 'cortex.feed.type': item.type, 'cortex.streams': streams },
    },
    deliver,
  );
}
