import { describe, expect, it } from 'vitest';
import { EnvError } from './env';
import { checkSecrets, DEVELOPMENT_SECRETS, loadServiceSecrets, secretList } from './service-secrets';

const G = 'gateway-service-secret-for-tests-0123456789';
const C = 'cognition-service-secret-for-tests-0123456789';
const J = 'user-token-secret-for-tests-0123456789abcdef';

/** Runs `fn`, expecting an EnvError whose message names `variable` and contains no secret value. */
function refusal(fn: () => unknown, variable: string, values: string[]) {
  let error: unknown;
  try {
    fn();
  } catch (err) {
    error = err;
  }
  expect(error).toBeInstanceOf(EnvError);
  const message = (error as Error).message;
  expect(message).toContain(variable);
  expect(message).not.toContain('\n');
  for (const v of values) expect(message).not.toContain(v);
  return message;
}

describe('service secrets', () => {
  it('falls back to distinct development secrets outside production, and says which', () => {
    for (const nodeEnv of ['development', 'test'] as const) {
      const { secrets, defaulted } = loadServiceSecrets({}, nodeEnv, ['gateway', 'cognition']);
      expect(secrets.gateway).toEqual([DEVELOPMENT_SECRETS.GATEWAY_SERVICE_SECRET]);
      expect(secrets.cognition).toEqual([DEVELOPMENT_SECRETS.COGNITION_SERVICE_SECRET]);
      expect(secrets.gateway).not.toEqual(secrets.cognition);
      expect(defaulted).toEqual(['GATEWAY_SERVICE_SECRET', 'COGNITION_SERVICE_SECRET']);
    }
  });

  it('reads a comma-separated list for rotation, the first one current', () => {
    expect(secretList(` ${G} , ${C},`)).toEqual([G, C]);
    const { secrets, defaulted } = loadServiceSecrets(
      { GATEWAY_SERVICE_SECRET: `new-${G},${G}`, COGNITION_SERVICE_SECRET: C, JWT_SECRET: J },
      'production',
      ['gateway', 'cognition'],
    );
    expect(secrets).toEqual({ gateway: [`new-${G}`, G], cognition: [C] });
    expect(defaulted).toEqual([]);
  });

  it('stops production without a secret, naming the variable', () => {
    const message = refusal(
      () => loadServiceSecrets({ GATEWAY_SERVICE_SECRET: G }, 'production', ['gateway', 'cognition']),
      'COGNITION_SERVICE_SECRET',
      [G],
    );
    expect(message).toMatch(/required in production/);
    // Empty counts as unset (compose writes empty values for absent variables).
    refusal(() => checkSecrets({ JWT_SECRET: '' }, 'production', ['JWT_SECRET']), 'JWT_SECRET', []);
  });

  it('stops production with a weak, public or shared secret and never prints a value', () => {
    const weak = 'hunter2-short';
    expect(
      refusal(
        () => checkSecrets({ GATEWAY_SERVICE_SECRET: weak }, 'production', ['GATEWAY_SERVICE_SECRET']),
        'GATEWAY_SERVICE_SECRET',
        [weak],
      ),
    ).toMatch(/at least 32/);
    refusal(
      () =>
        checkSecrets({ GATEWAY_SERVICE_SECRET: `${G},${weak}` }, 'production', ['GATEWAY_SERVICE_SECRET']),
      'GATEWAY_SERVICE_SECRET',
      [G, weak],
    );
    expect(
      refusal(
        () =>
          checkSecrets({ GATEWAY_SERVICE_SECRET: J, JWT_SECRET: J }, 'production', [
            'GATEWAY_SERVICE_SECRET',
          ]),
        'GATEWAY_SERVICE_SECRET',
        [J],
      ),
    ).toMatch(/differ from JWT_SECRET/);
    expect(
      refusal(
        () =>
          loadServiceSecrets(
            { GATEWAY_SERVICE_SECRET: G, COGNITION_SERVICE_SECRET: `${C},${G}` },
            'production',
            ['gateway', 'cognition'],
          ),
        'SERVICE_SECRET',
        [G, C],
      ),
    ).toMatch(/must differ from (GATEWAY|COGNITION)_SERVICE_SECRET/);
    expect(
      refusal(
        () =>
          checkSecrets(
            { COGNITION_SERVICE_SECRET: DEVELOPMENT_SECRETS.COGNITION_SERVICE_SECRET },
            'production',
            ['COGNITION_SERVICE_SECRET'],
          ),
        'COGNITION_SERVICE_SECRET',
        [DEVELOPMENT_SECRETS.COGNITION_SERVICE_SECRET],
      ),
    ).toMatch(/public development secret/);
  });

  it('lets development run with whatever is set', () => {
    expect(
      loadServiceSecrets({ GATEWAY_SERVICE_SECRET: 'short' }, 'development', ['gateway']).secrets.gateway,
    ).toEqual(['short']);
  });
});
