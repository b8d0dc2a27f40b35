import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { dirname, join, sep } from 'node:path';
import { REPO_ROOT } from '../compose-file';
import type { K8sObject } from './kustomize';

/**
 * Test support: fields the Kubernetes API does not know, as `kubectl apply` (strict field
 * validation) would refuse them. kubernetes-models' schemas accept unknown fields, so a typo such as
 * `readinesProbe` would pass them and leave a pod without its probe; this walks the object along
 * the models' own type declarations (`.d.ts`, generated from the API's OpenAPI definitions) and
 * names every key that the declared interface lacks. Map types (labels, selectors) and anything
 * it cannot follow are left alone.
 */

interface Declared {
  props: Map<string, string>;
  imports: Map<string, string>;
  file: string;
}

const cache = new Map<string, Declared | undefined>();

function declared(file: string): Declared | undefined {
  if (cache.has(file)) return cache.get(file);
  let result: Declared | undefined;
  if (existsSync(file)) {
    const text = readFileSync(file, 'utf8');
    const imports = new Map<string, string>();
    for (const m of text.matchAll(/^import \{ (\w+) \} from "([^"]+)";$/gm)) {
      if (m[1] && m[2]) imports.set(m[1], m[2]);
    }
    const body = /^export interface \w+(?: extends [\w, ]+)? \{\n([\s\S]*?)^\}/m.exec(text)?.[1];
    if (body !== undefined) {
      const props = new Map<string, string>();
      for (const m of body.matchAll(/^ {4}"([^"]+)"\??: (.*)$/gm)) {
        if (m[1]) props.set(m[1], (m[2] ?? '').replace(/;$/, ''));
      }
      result = { props, imports, file };
    }
  }
  cache.set(file, result);
  return result;
}

function resolveImport(from: string, spec: string): string {
  const bare = spec.replace(/\.js$/, '');
  if (bare.startsWith('.')) return join(dirname(from), `${bare}.d.ts`);
  // A package: its folder sits beside the importing package's, in the same node_modules.
  const real = realpathSync(from);
  const nm = real.slice(0, real.lastIndexOf(`${sep}node_modules${sep}`) + `${sep}node_modules`.length);
  return join(nm, `${bare}.d.ts`);
}

function check(value: unknown, type: string, at: string, ctx: Declared, problems: string[]) {
  const array = /^Array<(.+)>$/.exec(type);
  if (array?.[1]) {
    if (Array.isArray(value)) {
      for (const [i, v] of value.entries()) check(v, array[1] ?? '', `${at}[${i}]`, ctx, problems);
    }
    return;
  }
  const spec = ctx.imports.get(type);
  if (!spec || value === null || typeof value !== 'object' || Array.isArray(value)) return;
  const inner = declared(resolveImport(ctx.file, spec));
  if (inner) walk(value as Record<string, unknown>, inner, at, problems);
}

function walk(value: Record<string, unknown>, decl: Declared, at: string, problems: string[]) {
  for (const [key, v] of Object.entries(value)) {
    const type = decl.props.get(key);
    if (type === undefined) problems.push(`${at}.${key}`);
    else check(v, type, `${at}.${key}`, decl, problems);
  }
}

/** `apps/v1` + `Deployment` → the model's declaration file in kubernetes-models. */
function modelFile(object: K8sObject): string {
  return join(REPO_ROOT, 'node_modules/kubernetes-models', object.apiVersion, `${object.kind}.d.ts`);
}

export function unknownFields(object: K8sObject): string[] {
  const decl = declared(modelFile(object));
  if (!decl) throw new Error(`no declaration for ${object.apiVersion} ${object.kind}`);
  const problems: string[] = [];
  walk(
    object as unknown as Record<string, unknown>,
    decl,
    `${object.kind}/${object.metadata.name}`,
    problems,
  );
  return problems;
}
