import { CortexError } from '@cortex/errors';

export interface Instance {
  url: URL;
  /** Stable label for metrics and logs: host:port. */
  id: string;
}

/** Parses `MEMORY_SERVICE_URL`-style values: one URL or several, comma-separated. */
export function parseInstances(service: string, urls: string | readonly string[]): Instance[] {
  const list = typeof urls === 'string' ? urls.split(',') : [...urls];
  const instances = list
    .map((u) => u.trim())
    .filter(Boolean)
    .map((u) => {
      const url = new URL(u);
      return { url, id: url.host };
    });
  if (instances.length === 0)
    throw new CortexError('service_not_found', `No instance configured for ${service}`);
  return instances;
}
