import { beforeAll, describe, expect, it } from 'vitest';
import {
  byKind,
  findKustomize,
  type K8sObject,
  type LabelSelector,
  podTemplates,
  render,
  selects,
} from './render.ts';

/** Who talks: a pod (namespace, labels, named ports) or an address outside the cluster. */
interface Endpoint {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  ports?: Record<string, number>;
  ip?: string;
}

interface Peer {
  podSelector?: LabelSelector;
  namespaceSelector?: LabelSelector;
  ipBlock?: { cidr: string; except?: string[] };
}
interface PortRule {
  protocol?: string;
  port?: number | string;
}
interface Rule {
  from?: Peer[];
  to?: Peer[];
  ports?: PortRule[];
}

const ipToInt = (ip: string) => ip.split('.').reduce((n, part) => n * 256 + Number(part), 0);
function inCidr(ip: string, cidr: string): boolean {
  const [base, bits] = cidr.split('/') as [string, string];
  const size = 2 ** (32 - Number(bits));
  return Math.floor(ipToInt(ip) / size) === Math.floor(ipToInt(base) / size);
}

function peerMatches(peer: Peer, policyNamespace: string, other: Endpoint): boolean {
  if (peer.ipBlock) {
    if (!other.ip) return false; // pods are matched by selectors here; ipBlock is for the outside
    return (
      inCidr(other.ip, peer.ipBlock.cidr) &&
      !(peer.ipBlock.except ?? []).some((c) => inCidr(other.ip as string, c))
    );
  }
  if (!other.namespace) return false;
  const namespaceOk = peer.namespaceSelector
    ? selects(peer.namespaceSelector, { 'kubernetes.io/metadata.name': other.namespace })
    : other.namespace === policyNamespace;
  return namespaceOk && selects(peer.podSelector, other.labels ?? {});
}

function portMatches(
  rules: PortRule[] | undefined,
  port: number,
  protocol: string,
  target: Endpoint,
): boolean {
  if (!rules || rules.length === 0) return true;
  return rules.some(
    (r) =>
      (r.protocol ?? 'TCP') === protocol &&
      (r.port === undefined ||
        r.port === port ||
        (typeof r.port === 'string' && target.ports?.[r.port] === port)),
  );
}

/** NetworkPolicy semantics: a direction is open unless a policy selects the pod for it, then only what a rule allows. */
function allowed(
  policies: K8sObject[],
  src: Endpoint,
  dst: Endpoint,
  port: number,
  protocol = 'TCP',
): boolean {
  const side = (pod: Endpoint, type: 'Ingress' | 'Egress', peer: Endpoint) => {
    if (!pod.namespace) return true; // outside the cluster: no policies of ours apply
    const applying = policies.filter(
      (p) =>
        (p.metadata.namespace ?? 'failway') === pod.namespace &&
        (p.spec.policyTypes ?? ['Ingress']).includes(type) &&
        selects(p.spec.podSelector, pod.labels ?? {}),
    );
    if (applying.length === 0) return true;
    return applying.some((p) =>
      ((type === 'Ingress' ? p.spec.ingress : p.spec.egress) ?? []).some((rule: Rule) => {
        const peers = type === 'Ingress' ? rule.from : rule.to;
        const peerOk =
          !peers ||
          peers.length === 0 ||
          peers.some((x) => peerMatches(x, p.metadata.namespace ?? 'failway', peer));
        return peerOk && portMatches(rule.ports, port, protocol, dst);
      }),
    );
  };
  return side(src, 'Egress', dst) && side(dst, 'Ingress', src);
}

function podsOf(objects: K8sObject[]): Map<string, Endpoint> {
  return new Map(
    podTemplates(objects).map(({ owner, labels, spec }) => [
      owner.metadata.name,
      {
        name: owner.metadata.name,
        namespace: owner.metadata.namespace ?? 'failway',
        labels,
        ports: Object.fromEntries(
          spec.containers.flatMap((c: { ports?: { name?: string; containerPort: number }[] }) =>
            (c.ports ?? []).filter((p) => p.name).map((p) => [p.name, p.containerPort]),
          ),
        ),
      },
    ]),
  );
}

// The kube-prometheus-stack, Tempo and CoreDNS pods as their charts label them.
const prometheus: Endpoint = {
  name: 'prometheus',
  namespace: 'monitoring',
  labels: { 'app.kubernetes.io/name': 'prometheus' },
  ports: { web: 9090 },
};
const grafana: Endpoint = {
  name: 'grafana',
  namespace: 'monitoring',
  labels: { 'app.kubernetes.io/name': 'grafana' },
};
const tempo: Endpoint = {
  name: 'tempo',
  namespace: 'monitoring',
  labels: { 'app.kubernetes.io/name': 'tempo' },
};
const coredns: Endpoint = { name: 'coredns', namespace: 'kube-system', labels: { 'k8s-app': 'kube-dns' } };
const internetClient: Endpoint = { name: 'a browser', ip: '198.51.100.7' };
const railApi: Endpoint = { name: 'the rail data API', ip: '203.0.113.10' };
const clusterInternal: Endpoint = { name: 'a VPC address', ip: '10.20.30.40' };

const kustomize = findKustomize();

describe.skipIf(!kustomize.path)(
  'NetworkPolicies: default deny, and the request path and telemetry still flow',
  () => {
    let local: { policies: K8sObject[]; pods: Map<string, Endpoint> };
    let production: { policies: K8sObject[]; pods: Map<string, Endpoint> };
    beforeAll(() => {
      const tool = kustomize.path as string;
      // The k6 Job is applied into the local deployment, so its policies join local's.
      const localObjects = [...render(tool, 'overlays/local'), ...render(tool, 'loadtest')];
      const productionObjects = render(tool, 'overlays/production');
      local = { policies: byKind(localObjects, 'NetworkPolicy'), pods: podsOf(localObjects) };
      production = { policies: byKind(productionObjects, 'NetworkPolicy'), pods: podsOf(productionObjects) };
    });
    const pod = (set: { pods: Map<string, Endpoint> }, name: string) => {
      const p = set.pods.get(name);
      if (!p) throw new Error(`no pod ${name}`);
      return p;
    };

    it('every namespace pod is selected by a deny-all policy for both directions', () => {
      for (const set of [local, production]) {
        const deny = set.policies.find(
          (p) => Object.keys(p.spec.podSelector).length === 0 && !p.spec.ingress && !p.spec.egress,
        );
        expect(deny?.spec.policyTypes).toEqual(['Ingress', 'Egress']);
      }
    });

    it('local: the request path, DNS, spans, scraping and the k6 Job are allowed', () => {
      const p = (name: string) => pod(local, name);
      const open: [Endpoint, Endpoint, number, string?][] = [
        [internetClient, p('gateway'), 8080],
        [p('gateway'), p('route-config'), 8081],
        [p('gateway'), p('departures'), 8082],
        [p('departures'), p('rail-sim'), 8090],
        [p('k6'), p('gateway'), 8080],
        // The gateway's ops port: Prometheus scrapes it, the k6 Job reads counters there.
        [prometheus, p('gateway'), 9080],
        [p('k6'), p('gateway'), 9080],
        [p('k6'), p('rail-sim'), 8090],
        [p('k6'), prometheus, 9090],
        [p('otel-collector'), tempo, 4317],
        [prometheus, p('otel-collector'), 8888],
        [prometheus, p('otel-collector'), 8889],
      ];
      for (const name of ['gateway', 'route-config', 'departures', 'rail-sim']) {
        open.push([p(name), p('otel-collector'), 4318]);
        open.push([prometheus, p(name), p(name).ports?.http as number]);
        open.push([p(name), coredns, 53, 'UDP']);
        open.push([p(name), coredns, 53, 'TCP']);
      }
      const blocked = open.filter(
        ([src, dst, port, proto]) => !allowed(local.policies, src, dst, port, proto),
      );
      expect(blocked.map(([s, d, port, proto]) => `${s.name} → ${d.name}:${port}/${proto ?? 'TCP'}`)).toEqual(
        [],
      );
    });

    it('local: everything off the request path is refused', () => {
      const p = (name: string) => pod(local, name);
      const closed: [Endpoint, Endpoint, number][] = [
        [internetClient, p('departures'), 8082],
        [internetClient, p('rail-sim'), 8090],
        [p('gateway'), p('rail-sim'), 8090],
        [p('route-config'), p('departures'), 8082],
        [p('departures'), p('gateway'), 8080],
        [p('rail-sim'), p('departures'), 8082],
        [p('departures'), railApi, 443],
        [p('gateway'), coredns, 80],
        [grafana, p('gateway'), 8080 + 1],
        [p('k6'), p('departures'), 8082],
        // /metrics and /admin/* are for Prometheus and operators, not the world or the replicas.
        [internetClient, p('gateway'), 9080],
        [p('departures'), p('gateway'), 9080],
      ];
      const open = closed.filter(([src, dst, port]) => allowed(local.policies, src, dst, port));
      expect(open.map(([s, d, port]) => `${s.name} → ${d.name}:${port}`)).toEqual([]);
    });

    it('production: departures reaches the rail API over HTTPS only, and nothing private', () => {
      const departures = pod(production, 'departures');
      expect(allowed(production.policies, departures, railApi, 443)).toBe(true);
      expect(allowed(production.policies, departures, railApi, 80)).toBe(false);
      expect(allowed(production.policies, departures, clusterInternal, 443)).toBe(false);
      expect(allowed(production.policies, pod(production, 'gateway'), railApi, 443)).toBe(false);
      expect(
        allowed(production.policies, pod(production, 'gateway'), pod(production, 'departures'), 8082),
      ).toBe(true);
      expect(allowed(production.policies, prometheus, departures, 8082)).toBe(true);
    });

    it('every NetworkPolicy selects at least one pod', () => {
      for (const set of [local, production]) {
        for (const policy of set.policies) {
          const pods = [...set.pods.values()].filter((p) => selects(policy.spec.podSelector, p.labels ?? {}));
          expect(pods.length, policy.metadata.name).toBeGreaterThan(0);
        }
      }
    });
  },
);

if (!kustomize.path) it.skip(`NetworkPolicies: ${kustomize.reason}`, () => undefined);
