import { z } from 'zod';

/**
 * The standard OpenTelemetry variables this project honours. Tracing is off unless
 * `OTEL_TRACES_EXPORTER` names an exporter (the SDK itself would default to `otlp`; here off by
 * default means no SDK is even loaded). Endpoint and protocol are validated here and then read by
 * the SDK itself, so every standard variable keeps its standard meaning.
 */
const tracingEnvSchema = z.object({
  OTEL_SDK_DISABLED: z
    .string()
    .optional()
    .transform((v) => v?.trim().toLowerCase() === 'true'),
  OTEL_TRACES_EXPORTER: z
    .string()
    .optional()
    .transform((v) =>
      (v ?? '')
        .split(',')
        .map((s) => s.trim().toLowerCase())
        .filter(Boolean),
    )
    .pipe(z.array(z.enum(['otlp', 'console', 'none'], 'must be otlp, console or none'))),
  OTEL_EXPORTER_OTLP_PROTOCOL: z.enum(['http/protobuf', 'http/json', 'grpc']).optional(),
  OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: z.enum(['http/protobuf', 'http/json', 'grpc']).optional(),
  OTEL_EXPORTER_OTLP_ENDPOINT: z.url().optional(),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: z.url().optional(),
  OTEL_SERVICE_NAME: z.string().trim().min(1).optional(),
});

export interface TracingConfig {
  enabled: boolean;
  /** Exporters the SDK builds from the variables (`otlp`, `console`); empty when off. */
  exporters: readonly ('otlp' | 'console')[];
  serviceName: string;
  protocol: 'http/protobuf' | 'http/json' | 'grpc';
  /** Where OTLP spans go, as the SDK will resolve it (for logs and docs; the SDK reads the env). */
  endpoint: string | undefined;
}

export class TracingEnvError extends Error {
  override readonly name = 'TracingEnvError';
}

/** Parses the `OTEL_*` variables; `service` is the name used when `OTEL_SERVICE_NAME` is unset. */
export function parseTracingEnv(env: NodeJS.ProcessEnv, service: string): TracingConfig {
  const given = Object.fromEntries(
    Object.keys(tracingEnvSchema.shape).map((k) => [k, env[k] === '' ? undefined : env[k]]),
  );
  const parsed = tracingEnvSchema.safeParse(given);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const name = String(issue?.path[0] ?? 'OTEL_*');
    throw new TracingEnvError(`${name}: ${issue?.message ?? 'invalid'}`);
  }
  const e = parsed.data;
  const exporters = e.OTEL_TRACES_EXPORTER.includes('none')
    ? []
    : e.OTEL_TRACES_EXPORTER.filter((x): x is 'otlp' | 'console' => x !== 'none');
  const protocol = e.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? e.OTEL_EXPORTER_OTLP_PROTOCOL ?? 'http/protobuf';
  const base = e.OTEL_EXPORTER_OTLP_ENDPOINT;
  const endpoint =
    e.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ??
    (base === undefined ? undefined : `${base.replace(/\/$/, '')}${protocol === 'grpc' ? '' : '/v1/traces'}`);
  return {
    enabled: !e.OTEL_SDK_DISABLED && exporters.length > 0,
    exporters: e.OTEL_SDK_DISABLED ? [] : exporters,
    serviceName: e.OTEL_SERVICE_NAME ?? service,
    protocol,
    endpoint: exporters.includes('otlp') ? endpoint : undefined,
  };
}
