import { describe, expect, it } from 'vitest';
import { databaseSource, type SourceDeps } from './database-source';

function fakeDeps(runtime: boolean, log: string[]): SourceDeps {
  return {
    async probeRuntime() {
      log.push('probe');
      if (!runtime) throw new Error('Could not find a working container runtime strategy');
    },
    async startContainer() {
      log.push('start');
      return { url: 'postgres://test@127.0.0.1:49153/test', stop: async () => void log.push('stop') };
    },
  };
}

describe('databaseSource', () => {
  it('uses DATABASE_URL without asking for a container', async () => {
    const log: string[] = [];
    const s = await databaseSource({ DATABASE_URL: 'postgres://a@127.0.0.1/x' }, fakeDeps(true, log));
    expect(s).toMatchObject({ kind: 'env', url: 'postgres://a@127.0.0.1/x' });
    expect(log).toEqual([]);
  });

  it('starts a container where a runtime answers, and stops it', async () => {
    const log: string[] = [];
    const s = await databaseSource({}, fakeDeps(true, log));
    expect(s).toMatchObject({ kind: 'container', url: 'postgres://test@127.0.0.1:49153/test' });
    await s.stop();
    expect(log).toEqual(['probe', 'start', 'stop']);
  });

  it('falls back to the embedded database without a runtime, or when told to', async () => {
    const log: string[] = [];
    expect(await databaseSource({}, fakeDeps(false, log))).toMatchObject({
      kind: 'embedded',
      url: undefined,
    });
    expect(await databaseSource({ TESTCONTAINERS: '0' }, fakeDeps(true, log))).toMatchObject({
      kind: 'embedded',
    });
    expect(log).toEqual(['probe']);
  });

  it('fails loudly when a runtime answers but the container cannot start', async () => {
    const deps = fakeDeps(true, []);
    deps.startContainer = async () => {
      throw new Error('pull access denied');
    };
    await expect(databaseSource({}, deps)).rejects.toThrow('pull access denied');
  });
});
