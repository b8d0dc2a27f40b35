import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

/** Test support: docker-compose.yml as `docker compose` would see it, without a Docker engine. */

export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));

export interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile?: string; args?: Record<string, string> };
  environment?: Record<string, string | number | boolean | null>;
  ports?: string[];
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[]; disable?: boolean };
  profiles?: string[];
  restart?: string;
  stop_grace_period?: string;
  networks?: string[];
}

export interface ComposeFile {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
  networks?: Record<string, { internal?: boolean } | null>;
}

/** One `${NAME...}` reference in a compose file: `op` is `-`, `:-`, `?`, `:?` or undefined (bare). */
export interface VariableRef {
  name: string;
  op: string | undefined;
  arg: string;
}

const REFERENCE = /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}/g;

/** Every variable a text refers to, with how it is defaulted or required. */
export function variableRefs(text: string): VariableRef[] {
  return [...text.matchAll(REFERENCE)]
    .filter((m) => m[0] !== '$$')
    .map((m) => ({ name: m[1] ?? '', op: m[2], arg: m[3] ?? '' }));
}

/**
 * Compose's variable interpolation, given the variables set in the shell or `.env`. A required
 * variable (`${X:?}` unset or empty, `${X?}` unset) throws with its message, as compose refuses to
 * start; a bare `${X}` that is unset becomes empty (compose warns).
 */
export function interpolate(value: string, vars: Record<string, string> = {}): string {
  return value.replace(REFERENCE, (match, name: string, op: string | undefined, arg: string) => {
    if (match === '$$') return '$';
    const set = Object.hasOwn(vars, name);
    const v = vars[name] ?? '';
    switch (op) {
      case ':-':
        return v === '' ? arg : v;
      case '-':
        return set ? v : arg;
      case ':?':
        if (v === '') throw new Error(`\${${name}} is required: ${arg}`);
        return v;
      case '?':
        if (!set) throw new Error(`\${${name}} is required: ${arg}`);
        return v;
      default:
        return v;
    }
  });
}

/** A YAML file (compose's own or an override) as parsed, without interpolation. */
export function readComposeYaml(path = `${REPO_ROOT}docker-compose.yml`): ComposeFile {
  return parse(readFileSync(path, 'utf8')) as ComposeFile;
}

/** The file with every string interpolated as above and YAML aliases resolved. */
export function loadCompose(
  vars: Record<string, string> = {},
  path = `${REPO_ROOT}docker-compose.yml`,
): ComposeFile {
  const resolve = (v: unknown): unknown => {
    if (typeof v === 'string') return interpolate(v, vars);
    if (Array.isArray(v)) return v.map(resolve);
    if (v && typeof v === 'object')
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, resolve(x)]));
    return v;
  };
  return resolve(readComposeYaml(path)) as ComposeFile;
}

/** `KEY=value` lines of an env file (compose's `.env`), comments and blank lines skipped. */
export function parseEnvFile(text: string): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (m?.[1]) vars[m[1]] = (m[2] ?? '').trim();
  }
  return vars;
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
