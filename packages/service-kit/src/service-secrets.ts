import { EnvError, type NodeEnv } from './env';

/** The services that call others, and so sign service tokens with a secret of their own. */
const CALLER_SERVICES = ['gateway', 'cognition'] as const;
export type CallerService = (typeof CALLER_SERVICES)[number];

/**
 * Used outside production when a secret is unset, so `pnpm start` needs no setup. They are public
 * (they are in the source), hence refused in production; distinct per service, so even a
 * development setup tells the gateway from cognition.
 */
export const DEVELOPMENT_SECRETS = {
  JWT_SECRET: 'cortex-dev-secret-change-me-0123456789',
  GATEWAY_SERVICE_SECRET: 'cortex-development-gateway-service-secret-not-for-production',
  COGNITION_SERVICE_SECRET: 'cortex-development-cognition-service-secret-not-for-production',
} as const;

const SERVICE_SECRET_VARIABLE = {
  gateway: 'GATEWAY_SERVICE_SECRET',
  cognition: 'COGNITION_SERVICE_SECRET',
} as const satisfies Record<CallerService, keyof typeof DEVELOPMENT_SECRETS>;

/** HS256 keys shorter than this are refused in production (RFC 7518 §3.2 asks for 256 bits). */
const MIN_SECRET_LENGTH = 32;

/** Every variable holding a secret: in production no two may share a value. */
const SECRET_VARIABLES = Object.keys(DEVELOPMENT_SECRETS) as (keyof typeof DEVELOPMENT_SECRETS)[];

/**
 * A secret variable's accepted values. A comma-separated list supports rotation: the first is
 * used for signing, every one is accepted when verifying.
 */
export function secretList(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/**
 * Refuses, in production, a required secret that is missing, shorter than 32 characters, one of
 * the public development secrets, or equal to another secret variable's value (a user token
 * signed with `JWT_SECRET` must never pass as a service token, nor cognition pass as the gateway).
 * Throws an EnvError naming the variable; the message never contains a value.
 */
export function checkSecrets(source: NodeJS.ProcessEnv, nodeEnv: NodeEnv, required: readonly string[]) {
  if (nodeEnv !== 'production') return;
  const fail = (variable: string, why: string) => {
    throw new EnvError(`invalid environment variable ${variable} (value not shown): ${why}`);
  };
  const values = new Map(SECRET_VARIABLES.map((v) => [v as string, secretList(source[v])]));
  for (const variable of required) {
    const list = values.get(variable) ?? secretList(source[variable]);
    if (list.length === 0) fail(variable, 'is required in production');
    const publicValues = Object.values(DEVELOPMENT_SECRETS) as string[];
    for (const secret of list) {
      if (secret.length < MIN_SECRET_LENGTH)
        fail(variable, `must be at least ${MIN_SECRET_LENGTH} characters in production`);
      if (publicValues.includes(secret)) fail(variable, 'is a public development secret');
      for (const [other, otherList] of values) {
        if (other !== variable && otherList.includes(secret)) fail(variable, `must differ from ${other}`);
      }
    }
  }
}

export interface ServiceSecrets<C extends CallerService> {
  /** Each service's accepted secrets, current first. */
  secrets: Record<C, string[]>;
  /** Variables that were unset and fell back to a development secret (to warn about). */
  defaulted: string[];
}

/**
 * The service secrets a service needs (its own to sign, its callers' to verify), checked as
 * `checkSecrets` does; outside production unset ones fall back to the development secrets.
 */
export function loadServiceSecrets<C extends CallerService>(
  source: NodeJS.ProcessEnv,
  nodeEnv: NodeEnv,
  services: readonly C[],
): ServiceSecrets<C> {
  const variables = services.map((s) => SERVICE_SECRET_VARIABLE[s]);
  checkSecrets(source, nodeEnv, variables);
  const defaulted: string[] = [];
  const secrets = {} as Record<C, string[]>;
  for (const service of services) {
    const variable = SERVICE_SECRET_VARIABLE[service];
    const list = secretList(source[variable]);
    if (list.length === 0) {
      defaulted.push(variable);
      list.push(DEVELOPMENT_SECRETS[variable]);
    }
    secrets[service] = list;
  }
  return { secrets, defaulted };
}
