import { EnvError } from '@cortex/service-kit';
import { describe, expect, it } from 'vitest';
import { loadCognitionEnv } from '../env';
import { parseBackendSpecs } from './backend-config';

describe('MODEL_BACKENDS', () => {
  it('parses named and unnamed entries in order', () => {
    expect(
      parseBackendSpecs(
        'gpt=openai:https://api.example.com/v1/|gpt-4o-mini|OPENAI_KEY, openai:http://127.0.0.1:11434/v1|llama3.2',
      ),
    ).toEqual([
      {
        name: 'gpt',
        kind: 'openai',
        baseUrl: 'https://api.example.com/v1',
        model: 'gpt-4o-mini',
        apiKeyEnv: 'OPENAI_KEY',
      },
      { name: 'openai-2', kind: 'openai', baseUrl: 'http://127.0.0.1:11434/v1', model: 'llama3.2' },
    ]);
    expect(parseBackendSpecs('')).toEqual([]);
  });

  it.each([
    ['http://127.0.0.1/v1|m', /only backend kind/],
    ['openai:http://127.0.0.1/v1', /not \[name=\]kind/],
    ['openai:ftp://127.0.0.1/v1|m', /http\(s\) URL/],
    ['Bad Name=openai:http://127.0.0.1/v1|m', /backend name/],
    ['local=openai:http://127.0.0.1/v1|m', /built-in/],
    ['openai:http://127.0.0.1/v1|m|not-a-var', /names an environment variable/],
    ['a=openai:http://127.0.0.1/v1|m,a=openai:http://127.0.0.1/v2|m', /used twice/],
  ])('rejects %s', (value, message) => {
    expect(() => parseBackendSpecs(value)).toThrow(message);
  });

  it('reads API keys from the variables named, and stops start-up naming the variable', () => {
    const env = loadCognitionEnv({
      MODEL_BACKENDS: 'gpt=openai:http://127.0.0.1:1/v1|m|MY_KEY',
      MY_KEY: 'sk-secret',
    });
    expect(env.MODEL_BACKENDS[0]?.apiKey).toBe('sk-secret');
    expect(() => loadCognitionEnv({ MODEL_BACKENDS: 'gpt=openai:http://127.0.0.1:1/v1|m|MY_KEY' })).toThrow(
      /^invalid environment variable MODEL_BACKENDS: .*MY_KEY, which is unset$/,
    );
    expect(() => loadCognitionEnv({ MODEL_BACKENDS: 'nonsense' })).toThrow(EnvError);
    expect(() => loadCognitionEnv({ MODEL_BACKENDS: 'nonsense' })).toThrow(/MODEL_BACKENDS/);
    expect(() => loadCognitionEnv({ LOCAL_ANALYSER: 'off' })).toThrow(/LOCAL_ANALYSER/);
    expect(loadCognitionEnv({}).LOCAL_ANALYSER).toBe('on');
  });
});
