import { z } from 'zod';

/**
 * One remote backend from MODEL_BACKENDS. The grammar, entries separated by commas:
 *
 *   [name=]kind:base-url|model[|API_KEY_VARIABLE]
 *
 * `kind` is `openai` (any OpenAI-compatible `POST {base-url}/chat/completions`: OpenAI, vLLM,
 * llama.cpp, Ollama, LM Studio...). `name` is what answers report in `backend` and /health shows;
 * it defaults to `<kind>-<position>`. The key itself never sits in MODEL_BACKENDS, only the name of
 * the variable holding it, so the list can be logged and committed.
 */
const backendSpecSchema = z.object({
  name: z
    .string()
    .regex(/^[a-z0-9][a-z0-9_-]{0,31}$/, 'a backend name is 1-32 of a-z, 0-9, _ and -')
    .refine((n) => n !== 'local', '"local" is the built-in analyser'),
  kind: z.literal('openai', { error: 'the only backend kind is "openai" (OpenAI-compatible)' }),
  baseUrl: z.url({ protocol: /^https?$/, error: 'base-url must be an http(s) URL' }),
  model: z.string().trim().min(1, 'model is required').max(200),
  apiKeyEnv: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'the API key part names an environment variable')
    .optional(),
  /** Filled in from `apiKeyEnv` at start-up. */
  apiKey: z.string().optional(),
});

export type BackendSpec = z.infer<typeof backendSpecSchema>;

const ENTRY = /^(?:([^=:|]+)=)?([a-z]+):([^|]+)\|([^|]+)(?:\|([^|]+))?$/;

/** Parses MODEL_BACKENDS; throws an Error whose one-line message names the bad entry. */
export function parseBackendSpecs(value: string): BackendSpec[] {
  const entries = value
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean);
  const specs = entries.map((entry, i) => {
    const m = ENTRY.exec(entry);
    if (!m) throw new Error(`entry ${i + 1} is not [name=]kind:base-url|model[|API_KEY_VARIABLE]`);
    const [, name, kind, baseUrl, model, apiKeyEnv] = m;
    const parsed = backendSpecSchema.safeParse({
      name: name?.trim() ?? `${kind}-${i + 1}`,
      kind,
      baseUrl: baseUrl?.trim().replace(/\/+$/, ''),
      model,
      apiKeyEnv: apiKeyEnv?.trim(),
    });
    if (!parsed.success) throw new Error(`entry ${i + 1}: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
    return parsed.data;
  });
  const names = specs.map((s) => s.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new Error(`backend name "${dup}" is used twice`);
  return specs;
}

/** Reads each backend's API key from the variable it names; an unset variable is an error. */
export function resolveApiKeys(specs: BackendSpec[], source: NodeJS.ProcessEnv): BackendSpec[] {
  return specs.map((spec) => {
    if (!spec.apiKeyEnv) return spec;
    const key = source[spec.apiKeyEnv];
    if (!key) throw new Error(`backend "${spec.name}" names ${spec.apiKeyEnv}, which is unset`);
    return { ...spec, apiKey: key };
  });
}
