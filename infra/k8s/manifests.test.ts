import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cognitionEnvSchema, loadCognitionEnv } from '../../services/cognition/src/env';
import { gatewayEnvSchema, loadGatewayEnv } from '../../services/gateway/src/env';
import { loadMemoryEnv, memoryEnvSchema } from '../../services/memory/src/env';
import { REPO_ROOT } from '../compose-file';
import { SECRET_NAME } from '../compose-safety';
import { type Container, containersOf, type K8sObject, kustomize } from './kustomize';
import { mayReach } from './network-reach';
import { validateObject } from './schemas';
import { unknownFields } from './strict-fields';

// No cluster runs here: the base and the dev overlay are resolved as `kubectl apply -k` would
// (kustomize.ts), every object is checked against the Kubernetes schemas (kubernetes-models), and
// the tests read what the objects say.

const K8S = `${REPO_ROOT}infra/k8s`;
const base = kustomize(`${K8S}/base`);
const dev = kustomize(`${K8S}/overlays/dev`);
const PORTS = { gateway: 8000, memory: 9000, cognition: 9100 } as const;
const SERVICES = Object.keys(PORTS) as (keyof typeof PORTS)[];
const SERVICE_SECRETS = ['GATEWAY_SERVICE_SECRET', 'COGNITION_SERVICE_SECRET'];
const LABEL = 'app.kubernetes.io/name';

const find = (objects: K8sObject[], kind: string, name: string) => {
  const o = objects.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) throw new Error(`no ${kind} ${name}`);
  return o;
};
const workload = (objects: K8sObject[], name: string) =>
  find(objects, name === 'gateway' ? 'StatefulSet' : 'Deployment', name);
const container = (objects: K8sObject[], name: string): Container => {
  const c = containersOf([workload(objects, name)]).find((x) => x.name === name);
  if (!c) throw new Error(`no container ${name}`);
  return c;
};
const podLabels = (name: string): Record<string, string> =>
  workload(base, name).spec.template.metadata.labels;

describe('kustomize (test support)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kustomize-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses a kustomization field it does not implement, and a hashed generator', () => {
    mkdirSync(join(dir, 'a'));
    writeFileSync(join(dir, 'a/kustomization.yaml'), 'resources: []\ncommonLabels: { a: b }\n');
    expect(() => kustomize(join(dir, 'a'))).toThrow(/commonLabels is not supported/);
    mkdirSync(join(dir, 'b'));
    writeFileSync(join(dir, 'b/kustomization.yaml'), 'secretGenerator: [{ name: s, literals: [A=b] }]\n');
    expect(() => kustomize(join(dir, 'b'))).toThrow(/disableNameSuffixHash/);
  });

  it('applies the dev overlay: namespace, image tags, replicas, generated Secrets', () => {
    for (const o of dev.filter((x) => x.kind !== 'Namespace'))
      expect(o.metadata.namespace).toBe('cortex-dev');
    for (const name of SERVICES) {
      expect(container(dev, name).image).toBe(`cortex-${name}:dev`);
      expect(workload(dev, name).spec.replicas).toBe(1);
      expect(container(base, name).image).toBe(`cortex-${name}`);
    }
    expect(dev.filter((o) => o.kind === 'Secret').map((o) => o.metadata.name)).toEqual([
      'cortex-database',
      'cortex-gateway',
      'cortex-service-tokens',
    ]);
  });
});

describe.each([
  ['base', base],
  ['overlays/dev', dev],
])('infra/k8s/%s', (_, objects) => {
  it('is valid against the Kubernetes schemas, object by object', () => {
    expect(objects.length).toBeGreaterThan(10);
    for (const o of objects) validateObject(o);
  });

  it('has no field the Kubernetes API does not know (strict field validation)', () => {
    expect(objects.flatMap(unknownFields)).toEqual([]);
  });
});

describe('schema validation (the check can fail)', () => {
  it('refuses a wrong type and a missing required field', () => {
    const broken = structuredClone(workload(base, 'memory'));
    broken.spec.replicas = 'two';
    expect(() => validateObject(broken)).toThrow(/replicas must be integer/);
    const noSelector = structuredClone(workload(base, 'memory'));
    delete noSelector.spec.selector;
    expect(() => validateObject(noSelector)).toThrow(/selector/);
    expect(() => validateObject({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'x' } })).toThrow(
      /no schema/,
    );
  });
});

describe('the workloads', () => {
  it('run memory and cognition as Deployments and the gateway as a StatefulSet, with replicas', () => {
    expect(workload(base, 'memory').kind).toBe('Deployment');
    expect(workload(base, 'cognition').kind).toBe('Deployment');
    expect(workload(base, 'gateway').kind).toBe('StatefulSet');
    for (const name of SERVICES) expect(workload(base, name).spec.replicas, name).toBeGreaterThanOrEqual(2);
  });

  it('give each gateway replica its own volume, holding PENDING_STORE_DIR (the journal)', () => {
    const sts = workload(base, 'gateway');
    const [claim] = sts.spec.volumeClaimTemplates;
    expect(claim.spec.accessModes).toEqual(['ReadWriteOnce']);
    const dir = container(base, 'gateway').env.find(
      (e: { name: string }) => e.name === 'PENDING_STORE_DIR',
    ).value;
    const mount = container(base, 'gateway').volumeMounts.find(
      (m: { name: string }) => m.name === claim.metadata.name,
    );
    expect(dir.startsWith(`${mount.mountPath}/`)).toBe(true);
    expect(sts.spec.template.spec.securityContext.fsGroup).toBe(1000);
    expect(find(base, 'Service', sts.spec.serviceName).spec.clusterIP).toBe('None');
  });

  it.each(SERVICES)('%s: readiness and liveness on /health, requests and limits, unprivileged', (name) => {
    const c = container(base, name);
    expect(c.ports).toEqual([{ name: 'http', containerPort: PORTS[name] }]);
    for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe']) {
      expect(c[probe]?.httpGet, `${name} ${probe}`).toEqual({ path: '/health', port: 'http' });
    }
    // Liveness gives up more slowly than readiness: a dependency outage should not restart pods.
    const budget = (p: { periodSeconds: number; failureThreshold: number }) =>
      p.periodSeconds * p.failureThreshold;
    expect(budget(c.livenessProbe)).toBeGreaterThan(budget(c.readinessProbe));
    for (const kind of ['requests', 'limits']) {
      expect(Object.keys(c.resources?.[kind] ?? {}).sort(), `${name} ${kind}`).toEqual(['cpu', 'memory']);
    }
    const pod = workload(base, name).spec.template.spec;
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000 });
    expect(c.securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
    });
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(15);
  });

  it.each(SERVICES)('%s: an environment its own start-up validation accepts in production', (name) => {
    const secrets = Object.fromEntries(
      dev.filter((o) => o.kind === 'Secret').map((o) => [o.metadata.name, o.data ?? {}]),
    );
    const env: Record<string, string> = { NODE_ENV: 'production' };
    for (const e of container(dev, name).env) {
      const ref = e.valueFrom?.secretKeyRef;
      env[e.name] = ref ? Buffer.from(secrets[ref.name]?.[ref.key] ?? '', 'base64').toString() : e.value;
    }
    const load = { gateway: loadGatewayEnv, memory: loadMemoryEnv, cognition: loadCognitionEnv }[name];
    expect(() => load(env)).not.toThrow();
    const known = {
      gateway: Object.keys(gatewayEnvSchema.in.shape),
      memory: Object.keys(memoryEnvSchema.shape),
      cognition: Object.keys(cognitionEnvSchema.shape),
    }[name];
    expect(
      Object.keys(env).filter((k) => k !== 'NODE_ENV' && !known.includes(k) && !SERVICE_SECRETS.includes(k)),
    ).toEqual([]);
  });

  it('point memory at the external database and the services at each other by Service name', () => {
    const env = (name: string) =>
      Object.fromEntries(
        container(base, name).env.map((e: { name: string; value?: string }) => [e.name, e.value]),
      );
    expect(env('cognition').MEMORY_SERVICE_URL).toBe('http://memory:9000');
    expect(env('gateway')).toMatchObject({
      MEMORY_SERVICE_URL: 'http://memory:9000',
      COGNITION_SERVICE_URL: 'http://cognition:9100',
    });
    expect(base.some((o) => /postgres/i.test(o.metadata.name))).toBe(false);
  });
});

describe('Services and PodDisruptionBudgets', () => {
  it.each(SERVICES)('%s has a Service that selects its pods on the container port, and a PDB', (name) => {
    const svc = find(base, 'Service', name);
    expect(svc.spec.selector).toEqual({ [LABEL]: name });
    expect(podLabels(name)).toMatchObject(svc.spec.selector);
    expect(svc.spec.ports).toEqual([{ name: 'http', port: PORTS[name], targetPort: 'http' }]);
    const pdb = find(base, 'PodDisruptionBudget', name);
    expect(pdb.spec.selector.matchLabels).toEqual({ [LABEL]: name });
    expect(pdb.spec.minAvailable).toBeLessThan(workload(base, name).spec.replicas);
  });

  it('make memory and cognition headless, so the callers balance over every ready pod', () => {
    expect(find(base, 'Service', 'memory').spec.clusterIP).toBe('None');
    expect(find(base, 'Service', 'cognition').spec.clusterIP).toBe('None');
  });
});

describe('Secrets', () => {
  it('are all referenced: no secret-named variable has an inline value, and the base defines none', () => {
    for (const c of containersOf(base)) {
      for (const e of c.env) {
        if (SECRET_NAME.test(e.name)) {
          expect(e.value, `${c.name} ${e.name}`).toBeUndefined();
          expect(e.valueFrom?.secretKeyRef, `${c.name} ${e.name}`).toBeDefined();
        }
      }
    }
    expect(base.filter((o) => o.kind === 'Secret')).toEqual([]);
  });

  it('give each service only the secrets the contract says it signs or verifies with', () => {
    const refs = (name: string) =>
      container(base, name)
        .env.filter((e: { valueFrom?: unknown }) => e.valueFrom)
        .map((e: { name: string }) => e.name)
        .sort();
    expect(refs('gateway')).toEqual(['AUTH_USERS', 'GATEWAY_SERVICE_SECRET', 'JWT_SECRET']);
    expect(refs('memory')).toEqual(['COGNITION_SERVICE_SECRET', 'DATABASE_URL', 'GATEWAY_SERVICE_SECRET']);
    expect(refs('cognition')).toEqual(['COGNITION_SERVICE_SECRET', 'GATEWAY_SERVICE_SECRET']);
  });

  it('are generated by the dev overlay for every reference, with obviously dev-only values', () => {
    for (const c of containersOf(dev)) {
      for (const e of c.env.filter((x: { valueFrom?: unknown }) => x.valueFrom)) {
        const { name, key } = e.valueFrom.secretKeyRef;
        const secret = find(dev, 'Secret', name);
        expect(secret.data && key in secret.data, `${name}/${key}`).toBe(true);
        const value = Buffer.from(secret.data?.[key] ?? '', 'base64').toString();
        if (value !== '') expect(value, `${name}/${key}`).toMatch(/dev-only/);
      }
    }
  });
});

describe('NetworkPolicies', () => {
  const policies = base.filter((o) => o.kind === 'NetworkPolicy');
  const sources = {
    gateway: podLabels('gateway'),
    cognition: podLabels('cognition'),
    memory: podLabels('memory'),
  };
  const reach = (set: K8sObject[]) =>
    Object.fromEntries(
      SERVICES.map((target) => [
        target,
        [...Object.entries(sources), ['outside', undefined] as const]
          .filter(([, labels]) => mayReach(set, labels, podLabels(target), PORTS[target]))
          .map(([name]) => name)
          .sort(),
      ]),
    );

  it("let only the gateway and cognition reach memory, and only the gateway reach cognition (the contract's permissions)", () => {
    expect(reach(policies)).toEqual({
      memory: ['cognition', 'gateway'],
      cognition: ['gateway'],
      gateway: ['cognition', 'gateway', 'memory', 'outside'],
    });
  });

  it('deny by default: a pod no rule names is unreachable, and the gateway only on its port', () => {
    const other = { [LABEL]: 'something-else' };
    expect(mayReach(policies, sources.gateway, other, 80)).toBe(false);
    expect(mayReach(policies, undefined, podLabels('gateway'), 22)).toBe(false);
    expect(mayReach(policies, sources.gateway, podLabels('memory'), 5432)).toBe(false);
  });

  it('would see a policy that opens memory to everyone (the check can fail)', () => {
    const open: K8sObject = {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: 'oops' },
      spec: { podSelector: { matchLabels: { [LABEL]: 'memory' } }, ingress: [{}] },
    };
    expect(reach([...policies, open]).memory).toEqual(['cognition', 'gateway', 'memory', 'outside']);
    expect(reach([]).cognition).toEqual(['cognition', 'gateway', 'memory', 'outside']);
  });
});
