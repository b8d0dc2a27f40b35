import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { diskHealth } from './disk-health';

const signal = AbortSignal.timeout(5000);
const fs =
  (freeBlocks: number, blocks = 1_000_000) =>
  async () => ({
    bavail: freeBlocks,
    blocks,
    bsize: 4096,
  });

describe('disk health', () => {
  it('warns on low free bytes or a low free share, without any quota', async () => {
    const opts = { dir: '/data', minFreeBytes: 1024 ** 3, minFreeRatio: 0.05 };
    // 500k free blocks of 4 KiB: ~2 GiB, half the disk.
    expect(await diskHealth({ ...opts, statfs: fs(500_000) })(signal)).toMatchObject({
      status: 'healthy',
      free_bytes: 500_000 * 4096,
      free_ratio: 0.5,
    });
    // 100k blocks: ~410 MB free, under 1 GiB.
    expect(await diskHealth({ ...opts, statfs: fs(100_000) })(signal)).toMatchObject({
      status: 'warning',
      warning: 'low_free_disk',
    });
    // 2 GiB free of a 100 GiB disk: 2 %, under 5 %.
    expect(await diskHealth({ ...opts, statfs: fs(524_288, 26_214_400) })(signal)).toMatchObject({
      status: 'warning',
    });
  });

  it('reads the real file system of a directory', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'disk-health-'));
    try {
      const h = await diskHealth({ dir, minFreeBytes: 0, minFreeRatio: 0 })(signal);
      expect(h.status).toBe('healthy');
      expect(h.total_bytes as number).toBeGreaterThan(0);
      const impossible = await diskHealth({ dir, minFreeBytes: Number.MAX_SAFE_INTEGER, minFreeRatio: 0 })(
        signal,
      );
      expect(impossible.status).toBe('warning');
      expect(
        await diskHealth({ dir: join(dir, 'missing'), minFreeBytes: 0, minFreeRatio: 0 })(signal),
      ).toMatchObject({
        status: 'warning',
        error: 'ENOENT',
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
