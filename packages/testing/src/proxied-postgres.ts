import { FaultProxy } from '@cortex/fault-proxy';
import { isolatedSchemaUrl } from './databases';

export interface ProxiedPostgres {
  /** Connects through the proxy: what the code under test uses. */
  url: string;
  /** Connects straight to the server, to look at the data while the proxy misbehaves. */
  directUrl: string;
  proxy: FaultProxy;
  /** Closes the proxy and drops the schema. */
  cleanup(): Promise<void>;
}

/**
 * An isolated schema on the real server, reached through a FaultProxy (tests only): the proxy's
 * port replaces the server's in the connection string, so faults hit every connection memory makes.
 */
export async function proxiedPostgres(baseUrl: string): Promise<ProxiedPostgres> {
  const iso = await isolatedSchemaUrl(baseUrl);
  const url = new URL(iso.url);
  const proxy = await FaultProxy.start({ host: url.hostname, port: Number(url.port || 5432) });
  url.hostname = '127.0.0.1';
  url.port = String(proxy.port);
  return {
    url: url.toString(),
    directUrl: iso.url,
    proxy,
    cleanup: async () => {
      await proxy.close();
      await iso.drop();
    },
  };
}
