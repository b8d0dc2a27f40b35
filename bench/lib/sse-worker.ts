/**
 * A child process holding a share of bench/sse.ts's SSE connections (one process cannot hold all
 * of them and the gateway's sockets within its file limit). Raw `http.get`, one socket each, and
 * just enough parsing to spot `connection_established` and timestamped `input` events.
 *
 * Messages in: `open` {url, streams, concurrency}, `count`, `collect`, `close`. Out: `opened`,
 * `counted`, `collected`.
 */
import { type ClientRequest, get } from 'node:http';
import { monotonicMs, type StreamSpec, type WorkerCommand, type WorkerReport } from './sse-worker-protocol';

// `sse-bench <seq> <sent-at-ms>` is the content bench/sse.ts posts.
const STAMP = /sse-bench (\d+) (\d+(?:\.\d+)?)/;

const requests: ClientRequest[] = [];
const seqs: number[] = [];
const latencies: number[] = [];
let closing = false;
let closedEarly = 0;

function openOne(url: string, spec: StreamSpec): Promise<string | undefined> {
  return new Promise((resolve) => {
    let settled = false;
    let live = false;
    const done = (failure: string | undefined) => {
      if (settled) return;
      settled = true;
      live = failure === undefined;
      resolve(failure);
    };
    const req = get(
      `${url}/output/stream`,
      { agent: false, headers: { authorization: spec.authorization, accept: 'text/event-stream' } },
      (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          done(`HTTP ${res.statusCode}`);
          return;
        }
        res.setEncoding('utf8');
        let buffered = '';
        res.on('data', (chunk: string) => {
          buffered += chunk;
          let end = buffered.indexOf('\n\n');
          while (end >= 0) {
            const frame = buffered.slice(0, end);
            buffered = buffered.slice(end + 2);
            if (frame.includes('"type":"input"')) {
              const m = STAMP.exec(frame);
              if (m) {
                seqs.push(Number(m[1]));
                latencies.push(monotonicMs() - Number(m[2]));
              }
            } else if (frame.includes('"type":"connection_established"')) {
              done(undefined);
            }
            end = buffered.indexOf('\n\n');
          }
        });
        res.on('close', () => {
          if (live && !closing) closedEarly++;
          done('closed before connection_established');
        });
      },
    );
    req.on('error', (err) => done((err as NodeJS.ErrnoException).code ?? err.message));
    requests.push(req);
  });
}

async function openAll(url: string, streams: StreamSpec[], concurrency: number) {
  const started = monotonicMs();
  let next = 0;
  let established = 0;
  const failures: string[] = [];
  await Promise.all(
    Array.from({ length: Math.min(concurrency, streams.length) }, async () => {
      while (next < streams.length) {
        const failure = await openOne(url, streams[next++]!);
        if (failure === undefined) established++;
        else failures.push(failure);
      }
    }),
  );
  const report: WorkerReport = {
    type: 'opened',
    established,
    failed: failures.length,
    failures: [...new Set(failures)].slice(0, 10),
    seconds: (monotonicMs() - started) / 1000,
  };
  process.send!(report);
}

process.on('message', (command: WorkerCommand) => {
  if (command.type === 'open') void openAll(command.url, command.streams, command.concurrency);
  else if (command.type === 'count') {
    const report: WorkerReport = { type: 'counted', deliveries: latencies.length };
    process.send!(report);
  } else if (command.type === 'collect') {
    const report: WorkerReport = { type: 'collected', seqs, latencies, closedEarly };
    process.send!(report);
  } else if (command.type === 'close') {
    closing = true;
    for (const r of requests) r.destroy();
    process.disconnect();
    setTimeout(() => process.exit(0), 100).unref();
  }
});
