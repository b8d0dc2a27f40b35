import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseAllDocuments, parse as parseYaml } from 'yaml';

/**
 * Test support: `kustomize build` for the features infra/k8s uses, so the tests see what
 * `kubectl apply -k` would apply without a cluster or the kustomize binary. Supported:
 * `resources` (files and kustomization folders), `namespace`, `images` (newName, newTag),
 * `replicas`, and `secretGenerator` with `literals` under `disableNameSuffixHash`. Any other
 * field throws, so that a manifest never relies on something this resolver silently skips.
 */

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  // biome-ignore lint/suspicious/noExplicitAny: the objects are checked against the Kubernetes schemas
  spec?: any;
  data?: Record<string, string>;
  type?: string;
}

interface Kustomization {
  apiVersion?: string;
  kind?: string;
  resources?: string[];
  namespace?: string;
  images?: { name: string; newName?: string; newTag?: string }[];
  replicas?: { name: string; count: number }[];
  generatorOptions?: { disableNameSuffixHash?: boolean };
  secretGenerator?: {
    name: string;
    literals?: string[];
    type?: string;
    options?: { disableNameSuffixHash?: boolean };
  }[];
}

const SUPPORTED = new Set([
  'apiVersion',
  'kind',
  'resources',
  'namespace',
  'images',
  'replicas',
  'generatorOptions',
  'secretGenerator',
]);
const CLUSTER_SCOPED = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding', 'PersistentVolume']);

export function kustomize(dir: string): K8sObject[] {
  const file = join(dir, 'kustomization.yaml');
  const k = parseYaml(readFileSync(file, 'utf8')) as Kustomization;
  for (const key of Object.keys(k)) {
    if (!SUPPORTED.has(key)) throw new Error(`${file}: ${key} is not supported by this resolver`);
  }
  if (k.kind !== undefined && k.kind !== 'Kustomization') throw new Error(`${file}: kind ${k.kind}`);

  const objects: K8sObject[] = [];
  for (const resource of k.resources ?? []) {
    const path = resolve(dir, resource);
    if (!existsSync(path)) throw new Error(`${file}: resource ${resource} does not exist`);
    if (statSync(path).isDirectory()) objects.push(...kustomize(path));
    else objects.push(...readManifests(path));
  }
  for (const gen of k.secretGenerator ?? []) {
    if (!(gen.options?.disableNameSuffixHash ?? k.generatorOptions?.disableNameSuffixHash)) {
      throw new Error(
        `${file}: secretGenerator ${gen.name} needs disableNameSuffixHash (name hashing unsupported)`,
      );
    }
    const data: Record<string, string> = {};
    for (const literal of gen.literals ?? []) {
      const at = literal.indexOf('=');
      if (at <= 0) throw new Error(`${file}: literal ${literal.slice(0, 20)}... is not KEY=value`);
      data[literal.slice(0, at)] = Buffer.from(literal.slice(at + 1)).toString('base64');
    }
    objects.push({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: gen.name },
      type: gen.type ?? 'Opaque',
      data,
    });
  }
  for (const { name, count } of k.replicas ?? []) {
    const targets = objects.filter(
      (o) => o.metadata.name === name && ['Deployment', 'StatefulSet', 'ReplicaSet'].includes(o.kind),
    );
    if (targets.length === 0) throw new Error(`${file}: replicas for ${name} match nothing`);
    for (const o of targets) o.spec.replicas = count;
  }
  for (const image of k.images ?? []) {
    let matched = false;
    for (const container of containersOf(objects)) {
      const { name, tag } = splitImage(container.image);
      if (name !== image.name) continue;
      matched = true;
      container.image = `${image.newName ?? name}${image.newTag ? `:${image.newTag}` : tag ? `:${tag}` : ''}`;
    }
    if (!matched) throw new Error(`${file}: image ${image.name} matches no container`);
  }
  if (k.namespace) {
    for (const o of objects) if (!CLUSTER_SCOPED.has(o.kind)) o.metadata.namespace = k.namespace;
  }
  return objects;
}

function readManifests(path: string): K8sObject[] {
  return parseAllDocuments(readFileSync(path, 'utf8'))
    .map((doc) => {
      if (doc.errors.length > 0) throw new Error(`${path}: ${doc.errors[0]?.message}`);
      return doc.toJS() as K8sObject | null;
    })
    .filter((o): o is K8sObject => o !== null);
}

export interface Container {
  name: string;
  image: string;
  // biome-ignore lint/suspicious/noExplicitAny: read through the tests' own expectations
  [field: string]: any;
}

/** Containers (init containers included) of every workload. */
export function containersOf(objects: K8sObject[]): Container[] {
  return objects.flatMap((o) => {
    const pod = o.spec?.template?.spec;
    return pod ? [...(pod.initContainers ?? []), ...(pod.containers ?? [])] : [];
  });
}

function splitImage(image: string): { name: string; tag: string | undefined } {
  const at = image.lastIndexOf(':');
  return at > image.lastIndexOf('/')
    ? { name: image.slice(0, at), tag: image.slice(at + 1) }
    : { name: image, tag: undefined };
}
