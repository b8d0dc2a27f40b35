import { request } from 'undici';

/**
 * A Prometheus sample from a service's /metrics: the first of `name` whose labels include all of
 * `labels` (services add their own, such as `service`, so an exact label set would be brittle).
 */
export async function scrapeMetric(baseUrl: string, name: string, labels: Record<string, string> = {}) {
  const res = await request(`${baseUrl}/metrics`);
  const text = await res.body.text();
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== ' ' && rest[0] !== '{') continue;
    const labelText = rest[0] === '{' ? rest.slice(1, rest.indexOf('}')) : '';
    if (!wanted.every((w) => labelText.split(',').includes(w))) continue;
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (Number.isFinite(value)) return value;
  }
  throw new Error(`${baseUrl}/metrics has no ${name} with ${wanted.join(',') || 'any labels'}`);
}

/** The gateway's breaker for memory: 0 closed, 1 half-open, 2 open. */
export const memoryBreakerState = (gatewayUrl: string) =>
  scrapeMetric(gatewayUrl, 'resilience_breaker_state', { upstream: 'memory' });
