import { sampledGauge } from '@cortex/service-kit';
import type { FastifyInstance } from 'fastify';

export interface GatewayGauges {
  /** The pending journal: inputs accepted while memory was away, not yet stored. */
  journal: { readonly size: number; readonly sizeBytes: number };
  /** Open `GET /output/stream` connections. */
  hub: { readonly size: number };
  /** Whether the gateway follows memory's event feed right now. */
  feed: { readonly connected: boolean };
}

/** The gateway's own state as gauges, read at scrape time (see infra/README.md, "Metrics"). */
export function gatewayMetrics(registry: FastifyInstance['metrics'], state: GatewayGauges) {
  sampledGauge(registry, {
    name: 'pending_journal_items',
    help: 'Inputs held in the pending journal, waiting to be stored in memory',
    sample: () => [{ value: state.journal.size }],
  });
  sampledGauge(registry, {
    name: 'pending_journal_bytes',
    help: 'Bytes of the inputs held in the pending journal',
    sample: () => [{ value: state.journal.sizeBytes }],
  });
  sampledGauge(registry, {
    name: 'sse_connections',
    help: 'Open Server-Sent Events streams to clients',
    sample: () => [{ value: state.hub.size }],
  });
  sampledGauge(registry, {
    name: 'event_feed_connected',
    help: "1 while the gateway follows memory's event feed, 0 while it reconnects",
    sample: () => [{ value: state.feed.connected ? 1 : 0 }],
  });
}
