import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

/** Test support: docker-compose.yml as `docker compose` would see it, without a Docker engine. */

export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));

export interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile: string };
  environment?: Record<string, string | number | boolean | null>;
  ports?: string[];
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[]; disable?: boolean };
  profiles?: string[];
  restart?: string;
  stop_grace_period?: string;
}

export interface ComposeFile {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

/**
 * Compose's variable interpolation for a shell with none of the variables set: what a fresh
 * checkout gets from a bare `docker compose up`. A required variable (`${X:?}` or a bare `${X}`)
 * throws, since the contract promises that `docker compose up` alone starts the stack.
 */
export function interpolate(value: string): string {
  return value.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}/g, (match, name, op, arg) => {
    if (match === '$$') return '$';
    if (op === '-' || op === ':-') return arg;
    throw new Error(`\${${name}} has no default: ${arg || 'required'}`);
  });
}

/** The file with every string interpolated as above and YAML aliases resolved. */
export function loadCompose(path = `${REPO_ROOT}docker-compose.yml`): ComposeFile {
  const resolve = (v: unknown): unknown => {
    if (typeof v === 'string') return interpolate(v);
    if (Array.isArray(v)) return v.map(resolve);
    if (v && typeof v === 'object')
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, resolve(x)]));
    return v;
  };
  return resolve(parse(readFileSync(path, 'utf8'))) as ComposeFile;
}

/** A service's environment as the process sees it: every value a string. */
export function environmentOf(service: ComposeService): Record<string, string> {
  return Object.fromEntries(
    Object.entries(service.environment ?? {}).map(([k, v]) => [k, v === null ? '' : String(v)]),
  );
}

/** Short-syntax port mappings (`[addr:]host:container`) as numbers. */
export function publishedPorts(
  service: ComposeService,
): { address?: string; host: number; container: number }[] {
  return (service.ports ?? []).map((spec) => {
    const parts = spec.split(':');
    const container = Number(parts.at(-1));
    const host = Number(parts.at(-2));
    if (parts.length < 2 || !Number.isInteger(container) || !Number.isInteger(host)) {
      throw new Error(`unsupported port mapping ${spec}`);
    }
    return parts.length > 2
      ? { address: parts.slice(0, -2).join(':'), host, container }
      : { host, container };
  });
}
