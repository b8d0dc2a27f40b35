import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { isolatedSchemaUrl } from '@cortex/testing';
import pg from 'pg';

const MIGRATIONS = fileURLToPath(new URL('../../services/memory/migrations/', import.meta.url));

/** The same INSERT memory's rows get, one row per statement, parameters bound by the driver. */
const INSERT = `INSERT INTO inputs (id, user_id, conversation_id, content, metadata, "timestamp")
  VALUES ($1, $2, $3, $4, $5::jsonb, $6::timestamptz)`;

/**
 * A fresh schema holding memory's `inputs` table exactly as its migrations make it (same columns,
 * same indexes), so a plain INSERT there pays the same index upkeep as memory's.
 */
export async function inputsTable(baseUrl: string) {
  const iso = await isolatedSchemaUrl(baseUrl);
  const schema = new URL(iso.url).searchParams.get('options')!.replace('-c search_path=', '');
  const client = new pg.Client({ connectionString: iso.url });
  await client.connect();
  for (const f of readdirSync(MIGRATIONS)
    .filter((f) => f.endsWith('.sql'))
    .sort())
    await client.query(readFileSync(join(MIGRATIONS, f), 'utf8'));
  await client.end();
  return { url: iso.url, schema, drop: iso.drop };
}

/** `n` synthetic rows in one statement: grows a table to a size without going through HTTP. */
export async function bulkInsert(url: string, n: number, users = 64) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(
      `INSERT INTO inputs (id, user_id, conversation_id, content, metadata, "timestamp")
       SELECT gen_random_uuid()::text, 'bulk-user-' || (g % $2), NULL, 'bench input', '{}'::jsonb, now()
         FROM generate_series(1, $1::int) g`,
      [n, users],
    );
  } finally {
    await client.end();
  }
}

/** Empties memory's `inputs` (its sequence goes on, so seqs stay increasing for feed followers). */
export async function truncateInputs(url: string) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('TRUNCATE inputs');
  } finally {
    await client.end();
  }
}

export async function countRows(url: string, table = 'inputs'): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const r = await client.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${table}`);
    return Number(r.rows[0]!.n);
  } finally {
    await client.end();
  }
}

/**
 * Autocommit single-row INSERTs from `connections` concurrent loops over a pg Pool of that size:
 * what the database takes from a plain Node client, no batching. Connections are opened before
 * the clock starts and closed after, so they are not held while other phases run.
 */
export async function rawInsertPhase(url: string, connections: number, seconds: number) {
  const pool = new pg.Pool({ connectionString: url, max: connections });
  const held = await Promise.all(Array.from({ length: connections }, () => pool.connect()));
  for (const c of held) c.release();
  let rows = 0;
  let errors = 0;
  const started = performance.now();
  const stopAt = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: connections }, async (_, worker) => {
      const user = `bench-user-${worker}`;
      while (performance.now() < stopAt) {
        try {
          await pool.query(INSERT, [randomUUID(), user, null, 'bench input', '{}', new Date().toISOString()]);
          rows++;
        } catch {
          errors++;
        }
      }
    }),
  );
  const durationS = (performance.now() - started) / 1000;
  await pool.end();
  return { rows, errors, durationS, rate: rows / durationS };
}
