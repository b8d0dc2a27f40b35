import type { ComposeFile } from './compose-file';
import { variableRefs } from './compose-file';

/**
 * What makes a compose file unsafe to run as it is (issue 11), as a list of problems, read from the
 * file before interpolation (so a default is seen even when the shell sets the variable).
 *
 * - a secret with a default: every variable named like a secret must be required (`${X:?...}`,
 *   or `${X?...}` where empty is meaningful), and no secret-named setting may hold a literal;
 * - a published internal service: only the gateway may have `ports` (and the monitoring
 *   profile's UIs, each port on 127.0.0.1 only), and memory and PostgreSQL may join only networks
 *   marked `internal`;
 * - demo users: `AUTH_USERS` must come from a required variable, never a literal or a default,
 *   and nothing may run a service outside production mode.
 */
export const SECRET_NAME = /SECRET|PASSWORD|AUTH_USERS|TOKEN|API_KEY|DATABASE_URL/;
const PUBLIC_SERVICES = new Set(['gateway']);
/** Published for the operator's own browser: only in the monitoring profile, only on loopback. */
const LOOPBACK_UIS = new Set(['grafana', 'jaeger']);
const INTERNAL_ONLY = ['memory', 'postgres'];
const REQUIRED = new Set([':?', '?']);

export function composeSafetyProblems(file: ComposeFile): string[] {
  const problems: string[] = [];
  const internalNets = new Set(
    Object.entries(file.networks ?? {})
      .filter(([, n]) => n?.internal === true)
      .map(([name]) => name),
  );
  for (const [name, service] of Object.entries(file.services)) {
    if (service.ports?.length && LOOPBACK_UIS.has(name)) {
      const open = service.ports.filter((p) => !String(p).startsWith('127.0.0.1:'));
      if (open.length > 0) problems.push(`${name} publishes ${open.join(', ')} beyond 127.0.0.1`);
      if (!service.profiles?.includes('monitoring')) {
        problems.push(`${name} publishes ports outside the monitoring profile`);
      }
    } else if (service.ports?.length && !PUBLIC_SERVICES.has(name)) {
      problems.push(`${name} publishes ports (${service.ports.join(', ')}); only the gateway may`);
    }
    if (INTERNAL_ONLY.includes(name)) {
      const nets = service.networks ?? ['default'];
      for (const net of nets.filter((n) => !internalNets.has(n))) {
        problems.push(`${name} joins network ${net}, which is not internal`);
      }
    }
    for (const [key, raw] of Object.entries(service.environment ?? {})) {
      const value = raw === null ? '' : String(raw);
      const refs = variableRefs(value);
      if (key === 'NODE_ENV' && value !== 'production') {
        problems.push(`${name} sets NODE_ENV=${value}; the images run in production mode`);
      }
      for (const ref of refs.filter((r) => SECRET_NAME.test(r.name))) {
        if (!REQUIRED.has(ref.op ?? '')) {
          problems.push(`${name}.${key}: \${${ref.name}} must be required (:?), not defaulted or optional`);
        }
      }
      if (SECRET_NAME.test(key)) {
        // A secret setting is only references (and, for a URL, the text around them).
        const literal = value.replace(/\$\{[^}]*\}/g, '');
        const secretRefs = refs.filter((r) => SECRET_NAME.test(r.name));
        if (key === 'DATABASE_URL') {
          if (secretRefs.length === 0 && /:\/\/[^/]*:[^@/]+@/.test(value)) {
            problems.push(`${name}.${key} holds a literal password`);
          }
        } else if (literal !== '' || secretRefs.length !== 1) {
          problems.push(`${name}.${key} must be exactly one required variable, not a literal`);
        }
      }
      if (key === 'AUTH_USERS' && /demo/i.test(value)) {
        problems.push(`${name}.AUTH_USERS names a demo user`);
      }
    }
  }
  return problems;
}
