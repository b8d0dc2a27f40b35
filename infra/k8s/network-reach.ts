import type { K8sObject } from './kustomize';

/**
 * Test support: whether a NetworkPolicy set lets a source pod reach a target pod's port, by the
 * Kubernetes rules: a pod selected by no Ingress policy accepts everything; a selected pod accepts
 * what any of its policies' rules allows (a rule without `from` allows every source, one without
 * `ports` every port). Within one namespace, with podSelector `matchLabels` only (what infra/k8s
 * uses; anything else throws so that it is not silently misread).
 */

export type Labels = Record<string, string>;

interface Peer {
  podSelector?: Selector;
  namespaceSelector?: Selector;
  ipBlock?: unknown;
}
interface Selector {
  matchLabels?: Labels;
  matchExpressions?: unknown[];
}
interface Rule {
  from?: Peer[];
  ports?: { port?: number | string; protocol?: string }[];
}

function matches(selector: Selector, labels: Labels): boolean {
  if (selector.matchExpressions?.length) throw new Error('matchExpressions are not supported here');
  return Object.entries(selector.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
}

/** `source` undefined: a client outside the namespace (an Ingress controller, the internet). */
export function mayReach(
  policies: K8sObject[],
  source: Labels | undefined,
  target: Labels,
  port: number,
): boolean {
  const selecting = policies.filter(
    (p) =>
      p.kind === 'NetworkPolicy' &&
      (p.spec.policyTypes ?? ['Ingress']).includes('Ingress') &&
      matches(p.spec.podSelector ?? {}, target),
  );
  if (selecting.length === 0) return true;
  return selecting.some((p) =>
    ((p.spec.ingress ?? []) as Rule[]).some((rule) => {
      const portOk =
        !rule.ports?.length || rule.ports.some((r) => r.port === undefined || Number(r.port) === port);
      if (!portOk) return false;
      if (!rule.from?.length) return true;
      return rule.from.some((peer) => {
        if (peer.namespaceSelector || peer.ipBlock) {
          throw new Error('namespaceSelector and ipBlock peers are not supported here');
        }
        return source !== undefined && matches(peer.podSelector ?? {}, source);
      });
    }),
  );
}
