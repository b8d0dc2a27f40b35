import { describe, expect, it } from 'vitest';
import { parseTracingEnv, TracingEnvError } from './tracing-config';

describe('parseTracingEnv', () => {
  it('is off without OTEL_TRACES_EXPORTER, and names the service by default', () => {
    const c = parseTracingEnv({}, 'memory');
    expect(c).toMatchObject({
      enabled: false,
      exporters: [],
      serviceName: 'memory',
      protocol: 'http/protobuf',
    });
  });

  it('turns on with otlp, resolving the traces endpoint from the base endpoint', () => {
    const c = parseTracingEnv(
      {
        OTEL_TRACES_EXPORTER: 'otlp',
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318/',
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      },
      'gateway',
    );
    expect(c).toEqual({
      enabled: true,
      exporters: ['otlp'],
      serviceName: 'gateway',
      protocol: 'http/json',
      endpoint: 'http://127.0.0.1:4318/v1/traces',
    });
  });

  it('prefers the traces-specific endpoint and protocol, and OTEL_SERVICE_NAME', () => {
    const c = parseTracingEnv(
      {
        OTEL_TRACES_EXPORTER: 'console, otlp',
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318',
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://127.0.0.1:9999/traces',
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/protobuf',
        OTEL_SERVICE_NAME: 'memory-a',
      },
      'memory',
    );
    expect(c).toMatchObject({
      enabled: true,
      exporters: ['console', 'otlp'],
      endpoint: 'http://127.0.0.1:9999/traces',
      protocol: 'http/protobuf',
      serviceName: 'memory-a',
    });
  });

  it('stays off with none or OTEL_SDK_DISABLED=true', () => {
    expect(parseTracingEnv({ OTEL_TRACES_EXPORTER: 'none' }, 'm').enabled).toBe(false);
    expect(parseTracingEnv({ OTEL_TRACES_EXPORTER: 'otlp,none' }, 'm').enabled).toBe(false);
    const disabled = parseTracingEnv({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_SDK_DISABLED: 'TRUE' }, 'm');
    expect(disabled).toMatchObject({ enabled: false, exporters: [] });
    // Empty values count as unset, as the SDK reads them.
    expect(parseTracingEnv({ OTEL_TRACES_EXPORTER: '', OTEL_SERVICE_NAME: '' }, 'm')).toMatchObject({
      enabled: false,
      serviceName: 'm',
    });
  });

  it('refuses an unknown exporter, protocol or a malformed endpoint, naming the variable', () => {
    expect(() => parseTracingEnv({ OTEL_TRACES_EXPORTER: 'jaeger' }, 'm')).toThrow(/^OTEL_TRACES_EXPORTER/);
    expect(() => parseTracingEnv({ OTEL_EXPORTER_OTLP_PROTOCOL: 'http' }, 'm')).toThrow(
      /^OTEL_EXPORTER_OTLP_PROTOCOL/,
    );
    expect(() => parseTracingEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'not a url' }, 'm')).toThrow(TracingEnvError);
  });
});
