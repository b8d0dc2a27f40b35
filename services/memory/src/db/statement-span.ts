import { inTracedWork, SpanKind, withSpan } from '@cortex/telemetry';

/**
 * A span per PGlite statement, as instrumentation-pg makes one per `pg` statement (PGlite is no
 * `pg` client, so nothing instruments it): only for statements made for something traced, the
 * text without its parameters. With tracing off, `run` is called as it is.
 */
export function traceStatement<T>(sql: string, run: () => Promise<T>): Promise<T> {
  if (!inTracedWork()) return run();
  const operation = /^\s*(\w+)/.exec(sql)?.[1]?.toUpperCase() ?? 'QUERY';
  const attributes = {
    'db.system.name': 'postgresql',
    'db.system': 'postgresql',
    'db.operation.name': operation,
    'db.query.text': sql,
    'cortex.db.driver': 'pglite',
  };
  return withSpan(`pglite.query:${operation}`, { kind: SpanKind.CLIENT, attributes }, run);
}
