import { request } from 'undici';
import { tokenFor } from './tokens';

export interface JsonResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  // biome-ignore lint/suspicious/noExplicitAny: tests read whatever JSON a service answered
  body: any;
}

export async function http(
  method: string,
  url: string,
  options: { token?: string; body?: unknown; headers?: Record<string, string>; raw?: string } = {},
): Promise<JsonResponse> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  let body: string | undefined;
  if (options.raw !== undefined) body = options.raw;
  else if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers['content-type'] ??= 'application/json';
  }
  const res = await request(url, { method: method as 'GET', headers, body });
  const text = await res.body.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {}
  return { status: res.statusCode, headers: res.headers, body: parsed };
}

/**
 * Sends only the headers of a POST whose declared body is `contentLength` bytes, then reads the
 * answer. A server refusing an oversized body answers before reading it and may close the
 * connection while a real client is still writing (EPIPE on the client's side): this observes the
 * answer itself without that race.
 */
export async function postDeclaringLength(
  url: string,
  contentLength: number,
  headers: Record<string, string> = {},
) {
  const { createConnection } = await import('node:net');
  const target = new URL(url);
  return new Promise<JsonResponse>((resolve, reject) => {
    const socket = createConnection(Number(target.port), target.hostname);
    let raw = '';
    socket.on('error', reject);
    socket.on('data', (d) => {
      raw += d.toString();
    });
    socket.on('close', () => {
      const [head = '', body = ''] = raw.split('\r\n\r\n');
      const status = Number(head.split(' ')[1]);
      const parsedHeaders = Object.fromEntries(
        head
          .split('\r\n')
          .slice(1)
          .map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]),
      );
      let parsed: unknown = body;
      try {
        parsed = JSON.parse(body);
      } catch {}
      resolve({ status, headers: parsedHeaders, body: parsed });
    });
    const lines = [
      `POST ${target.pathname} HTTP/1.1`,
      `host: ${target.host}`,
      'content-type: application/json',
      `content-length: ${contentLength}`,
      'connection: close',
      ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
    ];
    socket.write(`${lines.join('\r\n')}\r\n\r\n`);
    socket.setTimeout(10_000, () => socket.destroy(new Error('no answer to an oversized body')));
  });
}

/**
 * A gateway's health with its details (dependency circuits, pending count): the open `/health`
 * says only statuses, the details need a signed-in user.
 */
export async function gatewayHealthDetails(gatewayUrl: string): Promise<JsonResponse> {
  return http('GET', `${gatewayUrl}/health/details`, { token: await tokenFor('e2e-health-reader') });
}
