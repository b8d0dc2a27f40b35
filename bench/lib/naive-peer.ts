/**
 * The comparison points for bench:ingest, as one process each (started like a service):
 *
 * - `NAIVE_MODE=naive`: what a user gets by writing the endpoint themselves: one Fastify process,
 *   `POST /input` validated by hand, one autocommit INSERT per request into memory's own `inputs`
 *   table (same columns, same indexes), the same answer body as the product. No auth, no journal,
 *   no event feed, no batching.
 * - `NAIVE_MODE=floor`: the same route answering the same body without touching a database: what
 *   HTTP on this machine allows at all.
 *
 * Env: PORT, HOST, NAIVE_MODE, DATABASE_URL (naive), NAIVE_POOL (connections, default 20 = memory's).
 */
import { randomUUID } from 'node:crypto';
import Fastify from 'fastify';
import pg from 'pg';

const mode = process.env.NAIVE_MODE === 'floor' ? 'floor' : 'naive';
const pool =
  mode === 'naive'
    ? new pg.Pool({
        connectionString: process.env.DATABASE_URL,
        max: Number(process.env.NAIVE_POOL ?? 20),
        // Other bench phases need the server's connections while this one is idle.
        idleTimeoutMillis: 1000,
      })
    : undefined;

const app = Fastify({ logger: false });
app.get('/health', async () => ({ status: 'healthy' }));
app.post('/input', async (request, reply) => {
  const body = request.body as { content?: unknown; conversation_id?: unknown; metadata?: unknown } | null;
  if (!body || typeof body.content !== 'string' || body.content.trim() === '') {
    return reply.code(400).send({ error: { code: 'invalid_request', message: 'content is required' } });
  }
  const data = {
    content: body.content,
    conversation_id: typeof body.conversation_id === 'string' ? body.conversation_id : null,
    timestamp: new Date().toISOString(),
    metadata: body.metadata && typeof body.metadata === 'object' ? body.metadata : {},
  };
  const id = randomUUID();
  if (pool) {
    await pool.query(
      `INSERT INTO inputs (id, user_id, conversation_id, content, metadata, "timestamp")
       VALUES ($1, $2, $3, $4, $5::jsonb, $6::timestamptz)`,
      [id, 'naive-user', data.conversation_id, data.content, JSON.stringify(data.metadata), data.timestamp],
    );
  }
  return { status: 'received', item_id: id, data };
});

const close = async () => {
  await app.close();
  await pool?.end();
  process.exit(0);
};
process.on('SIGTERM', () => void close());
process.on('SIGINT', () => void close());
await app.listen({ port: Number(process.env.PORT ?? 0), host: process.env.HOST ?? '127.0.0.1' });
