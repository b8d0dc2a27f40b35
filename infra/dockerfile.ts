import { readFileSync } from 'node:fs';

/** Test support: a Dockerfile's instructions, grouped by build stage. */

interface Instruction {
  keyword: string;
  args: string;
}

export interface Stage {
  from: string;
  name: string | undefined;
  instructions: Instruction[];
}

function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  // Parser directives and comments go first; then a trailing backslash continues the line.
  const logical = text
    .split('\n')
    .filter((line) => !/^\s*#/.test(line))
    .join('\n')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean);
  for (const line of logical) {
    const [, keyword = '', args = ''] = /^(\S+)\s*(.*)$/.exec(line) ?? [];
    const instruction = { keyword: keyword.toUpperCase(), args };
    if (instruction.keyword === 'FROM') {
      const [from = '', , name] = args.split(/\s+/);
      stages.push({ from, name, instructions: [] });
    } else {
      const stage = stages.at(-1);
      // ARGs before the first FROM are global (see globalArgs); nothing else may come first.
      if (!stage && instruction.keyword === 'ARG') continue;
      if (!stage) throw new Error(`${keyword} before the first FROM`);
      stage.instructions.push(instruction);
    }
  }
  return stages;
}

export function readDockerfile(path: string): Stage[] {
  return parseDockerfile(readFileSync(path, 'utf8'));
}

/** The arguments of a stage's last instruction of that kind (the one that takes effect). */
export function last(stage: Stage, keyword: string): string | undefined {
  return stage.instructions.filter((i) => i.keyword === keyword).at(-1)?.args;
}

/** A JSON-form (exec form) argument list such as CMD's. */
export function execForm(args: string): string[] {
  const parsed: unknown = JSON.parse(args);
  if (!Array.isArray(parsed) || !parsed.every((a) => typeof a === 'string')) {
    throw new Error(`not an exec-form list: ${args}`);
  }
  return parsed;
}

/** The ARGs declared before the first FROM, with their defaults (usable in FROM lines). */
function globalArgs(text: string): Record<string, string | undefined> {
  const args: Record<string, string | undefined> = {};
  for (const line of text.split('\n')) {
    if (/^\s*FROM\s/i.test(line)) break;
    const m = /^\s*ARG\s+([A-Za-z_][A-Za-z0-9_]*)(?:=(\S*))?/i.exec(line);
    if (m?.[1]) args[m[1]] = m[2];
  }
  return args;
}

/** `${X}` and `$X` replaced from `vars`, as Docker expands FROM, ENV, EXPOSE and LABEL lines. */
export function expand(text: string, vars: Record<string, string | undefined>): string {
  return text.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (_, a, b) => {
    const value = vars[a ?? b];
    if (value === undefined) throw new Error(`$${a ?? b} is not set`);
    return value;
  });
}

/** `KEY=value` pairs of an ENV instruction (the form this project uses). */
function envPairs(args: string): Record<string, string> {
  return Object.fromEntries(
    args
      .split(/\s+/)
      .filter(Boolean)
      .map((pair) => {
        const at = pair.indexOf('=');
        return [pair.slice(0, at), pair.slice(at + 1).replace(/^"(.*)"$/, '$1')];
      }),
  );
}

export interface ResolvedStage {
  /** The external image at the root of the stage's FROM chain. */
  image: string;
  /** The stages from that image down to the one asked for. */
  chain: Stage[];
  /** ENV as the stage's processes see it (inherited ones first). */
  env: Record<string, string>;
}

/**
 * The last stage as `docker build --build-arg ...` builds it: FROM lines expanded with the global
 * ARGs (build args override their defaults) and followed through earlier stages by name.
 */
export function resolveLastStage(text: string, buildArgs: Record<string, string>): ResolvedStage {
  const stages = parseDockerfile(text);
  const vars = { ...globalArgs(text), ...buildArgs };
  const chain: Stage[] = [];
  let stage = stages.at(-1);
  let image = '';
  while (stage) {
    chain.unshift(stage);
    const from = expand(stage.from, vars);
    const parent = stages.find((s) => s.name === from);
    if (!parent) image = from;
    stage = parent;
  }
  const env: Record<string, string> = {};
  for (const s of chain) {
    for (const i of s.instructions) if (i.keyword === 'ENV') Object.assign(env, envPairs(i.args));
  }
  return { image, chain, env };
}
