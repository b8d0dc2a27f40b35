import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { summarise } from './stats';

/**
 * What one durable append costs on this disk: a short line written and fdatasync'ed, `count`
 * times in a row, in `dir` (put it where the gateway keeps its pending journal).
 */
export async function fdatasyncLatency(dir: string, count = 200) {
  const fh = await open(join(dir, 'fsync-probe.log'), 'a');
  const samples: number[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const t0 = performance.now();
      await fh.write(`{"probe":${i},"pad":"${'x'.repeat(200)}"}\n`);
      await fh.datasync();
      samples.push(performance.now() - t0);
    }
  } finally {
    await fh.close();
  }
  return summarise(samples);
}
