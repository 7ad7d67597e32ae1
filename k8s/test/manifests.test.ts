import { beforeAll, describe, expect, it } from 'vitest';
import {
  byKind,
  find,
  findKustomize,
  type K8sObject,
  OVERLAYS,
  podTemplates,
  RENDERED,
  render,
  selects,
} from './render.ts';

const kustomize = findKustomize();
const rendered = new Map<string, K8sObject[]>();

beforeAll(() => {
  if (!kustomize.path) return;
  for (const dir of RENDERED) rendered.set(dir, render(kustomize.path, dir));
});

/** The objects `dir` rendered to; never an empty list, so no loop over them can pass vacuously. */
const objectsOf = (dir: string): K8sObject[] => {
  const objects = rendered.get(dir) ?? [];
  if (objects.length === 0) throw new Error(`${dir} rendered no objects`);
  return objects;
};

/** Objects of the Prometheus Operator, which kubernetes-models has no schema for. */
const CRD_CHECKS: Record<string, (o: K8sObject) => string[]> = {
  'monitoring.coreos.com/v1/ServiceMonitor': (o) => {
    const problems: string[] = [];
    if (!o.spec?.selector || typeof o.spec.selector !== 'object') problems.push('spec.selector is missing');
    if (!Array.isArray(o.spec?.endpoints) || o.spec.endpoints.length === 0)
      problems.push('spec.endpoints is empty');
    for (const [i, e] of (o.spec?.endpoints ?? []).entries()) {
      if (typeof e.port !== 'string') problems.push(`spec.endpoints[${i}].port must be a Service port name`);
      for (const r of e.relabelings ?? [])
        if (!r.targetLabel && r.action !== 'drop' && r.action !== 'keep')
          problems.push(`spec.endpoints[${i}] relabeling without targetLabel`);
    }
    return problems;
  },
  'monitoring.coreos.com/v1/PodMonitor': (o) => {
    const problems: string[] = [];
    if (!o.spec?.selector || typeof o.spec.selector !== 'object') problems.push('spec.selector is missing');
    if (!Array.isArray(o.spec?.podMetricsEndpoints) || o.spec.podMetricsEndpoints.length === 0)
      problems.push('spec.podMetricsEndpoints is empty');
    for (const [i, e] of (o.spec?.podMetricsEndpoints ?? []).entries())
      if (typeof e.port !== 'string')
        problems.push(`spec.podMetricsEndpoints[${i}].port must be a container port name`);
    return problems;
  },
  'monitoring.coreos.com/v1/PrometheusRule': (o) => {
    const problems: string[] = [];
    if (!Array.isArray(o.spec?.groups) || o.spec.groups.length === 0) problems.push('spec.groups is empty');
    for (const g of o.spec?.groups ?? []) {
      if (typeof g.name !== 'string') problems.push('a group has no name');
      for (const r of g.rules ?? []) {
        if (typeof (r.record ?? r.alert) !== 'string')
          problems.push(`group ${g.name}: a rule is neither record nor alert`);
        if (typeof r.expr !== 'string' || r.expr.trim() === '')
          problems.push(`group ${g.name}: a rule has no expr`);
      }
    }
    return problems;
  },
};

async function validateObject(o: K8sObject): Promise<string[]> {
  const crd = CRD_CHECKS[`${o.apiVersion}/${o.kind}`];
  if (crd) return crd(o);
  let mod: Record<string, new (data: unknown) => { validate(): void }>;
  try {
    const specifier = `kubernetes-models/${o.apiVersion}/${o.kind}`;
    mod = await import(/* @vite-ignore */ specifier);
  } catch {
    return [`${o.apiVersion} ${o.kind} is not a known Kubernetes API type`];
  }
  const Model = mod[o.kind];
  if (!Model) return [`kubernetes-models has no ${o.kind}`];
  try {
    new Model(o).validate();
    return [];
  } catch (error) {
    return [(error as Error).message];
  }
}

describe.skipIf(!kustomize.path)('rendered Kubernetes manifests', () => {
  it.each(RENDERED)(
    '%s renders with kustomize and every object is valid against the Kubernetes API schema',
    async (dir) => {
      const objects = objectsOf(dir);
      expect(objects.length).toBeGreaterThan(3);
      const problems: string[] = [];
      for (const o of objects) {
        for (const p of await validateObject(o)) problems.push(`${o.kind}/${o.metadata.name}: ${p}`);
        if (o.kind !== 'Namespace' && o.metadata.namespace !== 'failway')
          problems.push(`${o.kind}/${o.metadata.name}: namespace ${o.metadata.namespace} instead of failway`);
      }
      expect(problems).toEqual([]);
    },
  );

  it.each(RENDERED)(
    '%s: every container has probes (services), limits, requests and a locked-down securityContext',
    (dir) => {
      const problems: string[] = [];
      const templates = podTemplates(objectsOf(dir));
      expect(templates.length, 'pod templates').toBeGreaterThan(0);
      for (const { owner, spec } of templates) {
        const where = `${owner.kind}/${owner.metadata.name}`;
        if (spec.securityContext?.runAsNonRoot !== true) problems.push(`${where}: pod runAsNonRoot`);
        if (spec.securityContext?.seccompProfile?.type !== 'RuntimeDefault')
          problems.push(`${where}: seccomp`);
        if (spec.automountServiceAccountToken !== false)
          problems.push(`${where}: service account token mounted`);
        for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
          const at = `${where}/${c.name}`;
          const sc = c.securityContext ?? {};
          if (sc.runAsNonRoot !== true) problems.push(`${at}: runAsNonRoot`);
          if (sc.readOnlyRootFilesystem !== true) problems.push(`${at}: readOnlyRootFilesystem`);
          if (sc.allowPrivilegeEscalation !== false) problems.push(`${at}: allowPrivilegeEscalation`);
          if (!sc.capabilities?.drop?.includes('ALL')) problems.push(`${at}: capabilities not dropped`);
          for (const r of ['cpu', 'memory']) {
            if (!c.resources?.limits?.[r]) problems.push(`${at}: no ${r} limit`);
            if (!c.resources?.requests?.[r]) problems.push(`${at}: no ${r} request`);
          }
          if (owner.kind === 'Deployment')
            for (const p of ['startupProbe', 'readinessProbe', 'livenessProbe'])
              if (!c[p]) problems.push(`${at}: no ${p}`);
          // A read-only root needs somewhere to write: /tmp is an emptyDir.
          const tmp = (c.volumeMounts ?? []).find((m: { mountPath: string }) => m.mountPath === '/tmp');
          const volume = tmp && spec.volumes?.find((v: { name: string }) => v.name === tmp.name);
          if (!volume?.emptyDir) problems.push(`${at}: /tmp is not an emptyDir`);
        }
      }
      expect(problems).toEqual([]);
    },
  );

  it.each(RENDERED)('%s: every image is pinned to a version tag, never latest', (dir) => {
    const images = podTemplates(objectsOf(dir)).flatMap(({ spec }) =>
      spec.containers.map((c: { image: string }) => c.image),
    );
    expect(images.length).toBeGreaterThan(0);
    // A release version as the tag (no tag means latest, and latest moves).
    expect(images.filter((i: string) => !/:\d+\.\d+\.\d+$/.test(i))).toEqual([]);
  });

  it.each(OVERLAYS)(
    '%s: the services answer probes on the ban-aware paths, roll out without losing capacity and drain before SIGKILL',
    (dir) => {
      const objects = objectsOf(dir);
      const telemetry = byKind(objects, 'ConfigMap').find((c) =>
        c.metadata.name.startsWith('failway-telemetry'),
      );
      const drainSeconds = Number(telemetry?.data?.SHUTDOWN_DRAIN_DELAY_MS) / 1000;
      expect(drainSeconds).toBeGreaterThan(0);
      const services = byKind(objects, 'Deployment').filter((d) => d.metadata.name !== 'otel-collector');
      expect(services.length).toBeGreaterThanOrEqual(3);
      for (const d of services) {
        const c = d.spec.template.spec.containers[0];
        expect(c.readinessProbe.httpGet.path, d.metadata.name).toBe('/readyz');
        expect(c.livenessProbe.httpGet.path, d.metadata.name).toBe('/healthz');
        expect(c.startupProbe.httpGet.path, d.metadata.name).toBe('/healthz');
        expect(d.spec.strategy.rollingUpdate.maxUnavailable, d.metadata.name).toBe(0);
        // packages/telemetry's serve() forces the process out 10 s after SIGTERM, drain included;
        // the grace period must outlast that, or SIGKILL cuts the drain short.
        expect(d.spec.template.spec.terminationGracePeriodSeconds, d.metadata.name).toBeGreaterThan(
          Math.max(10, drainSeconds),
        );
        const env = Object.fromEntries(c.env.map((e: { name: string; value?: string }) => [e.name, e.value]));
        expect(env.HOST, d.metadata.name).toBe('0.0.0.0');
        const byName = (name: string) => c.env.find((e: { name: string }) => e.name === name);
        expect(byName('OTEL_SERVICE_NAME').valueFrom.fieldRef.fieldPath).toBe(
          "metadata.labels['app.kubernetes.io/name']",
        );
        expect(d.spec.template.metadata.labels['app.kubernetes.io/name']).toBe(d.metadata.name);
        expect(env.OTEL_RESOURCE_ATTRIBUTES).toContain('k8s.pod.name=$(SERVICE_INSTANCE_ID)');
      }
      expect(
        find(objects, 'Deployment', 'departures').spec.template.spec.containers[0].readinessProbe.httpGet
          .path,
      ).toBe('/readyz');
    },
  );

  it.each(OVERLAYS)(
    '%s: the gateway Service publishes only the public port; probes use the ops port; TRUST_PROXY is never a hop count',
    (dir) => {
      const objects = objectsOf(dir);
      const c = find(objects, 'Deployment', 'gateway').spec.template.spec.containers[0];
      const env = Object.fromEntries(c.env.map((e: { name: string; value?: string }) => [e.name, e.value]));
      const ports = Object.fromEntries(
        c.ports.map((p: { name: string; containerPort: number }) => [p.name, p.containerPort]),
      );
      expect(ports).toEqual({ http: 8080, ops: Number(env.OPS_PORT) });
      expect(
        find(objects, 'Service', 'gateway').spec.ports.map((p: { targetPort: string }) => p.targetPort),
      ).toEqual(['http']);
      for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe'])
        expect(c[probe].httpGet.port, probe).toBe('ops');
      const trust = env.TRUST_PROXY;
      if (dir === 'overlays/local') expect(trust).toBeUndefined();
      else expect(trust).toMatch(/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/);
    },
  );

  it.each(OVERLAYS)('%s: departures is reachable as a headless Service and spread across nodes', (dir) => {
    const objects = objectsOf(dir);
    const svc = find(objects, 'Service', 'departures');
    expect(svc.spec.clusterIP).toBe('None');
    const gateway = find(objects, 'Deployment', 'gateway').spec.template.spec.containers[0];
    const dns = gateway.env.find((e: { name: string }) => e.name === 'DEPARTURES_DNS').value as string;
    const [host, port] = dns.split(':');
    expect(host).toBe('departures');
    expect(svc.spec.ports.map((p: { port: number }) => p.port)).toContain(Number(port));
    const spread = find(objects, 'Deployment', 'departures').spec.template.spec.topologySpreadConstraints;
    const byHost = spread.find((s: { topologyKey: string }) => s.topologyKey === 'kubernetes.io/hostname');
    expect(byHost.labelSelector.matchLabels['app.kubernetes.io/name']).toBe('departures');
    if (dir === 'overlays/production') expect(byHost.whenUnsatisfiable).toBe('DoNotSchedule');
  });

  it.each(OVERLAYS)('%s: PDBs, Services and HPAs point at pods that exist', (dir) => {
    const objects = objectsOf(dir);
    const pods = podTemplates(objects);
    const hpas = byKind(objects, 'HorizontalPodAutoscaler');
    const replicasOf = (d: K8sObject) =>
      hpas.find((h) => h.spec.scaleTargetRef.name === d.metadata.name)?.spec.minReplicas ??
      d.spec.replicas ??
      1;
    const pdbs = byKind(objects, 'PodDisruptionBudget');
    expect(pdbs.map((p) => p.metadata.name)).toEqual(expect.arrayContaining(['gateway', 'departures']));
    for (const pdb of pdbs) {
      const owners = pods.filter((p) => selects(pdb.spec.selector, p.labels));
      expect(
        owners.map((o) => o.owner.metadata.name),
        `PDB ${pdb.metadata.name}`,
      ).toEqual([pdb.metadata.name]);
      // A PDB over one replica with maxUnavailable 1 protects nothing; over zero it blocks drains.
      expect(replicasOf(owners[0]?.owner as K8sObject), `PDB ${pdb.metadata.name}`).toBeGreaterThan(1);
    }
    for (const svc of byKind(objects, 'Service').filter((s) => s.spec.type !== 'ExternalName')) {
      const targets = pods.filter((p) => selects({ matchLabels: svc.spec.selector }, p.labels));
      expect(targets.length, `Service ${svc.metadata.name}`).toBe(1);
      const ports = targets.flatMap((t) =>
        t.spec.containers.flatMap((c: { ports?: unknown[] }) => c.ports ?? []),
      );
      for (const p of svc.spec.ports)
        expect(
          ports.some(
            (cp: { name?: string; containerPort: number }) =>
              cp.name === p.targetPort || cp.containerPort === p.targetPort,
          ),
          `Service ${svc.metadata.name} port ${p.name}`,
        ).toBe(true);
    }
    for (const hpa of hpas) find(objects, 'Deployment', hpa.spec.scaleTargetRef.name);
  });

  it.each(OVERLAYS)(
    '%s: every service URL in the environment names a Service and one of its ports',
    (dir) => {
      const objects = objectsOf(dir);
      const services = new Map(byKind(objects, 'Service').map((s) => [s.metadata.name, s]));
      const urls = podTemplates(objects).flatMap(({ spec }) =>
        spec.containers.flatMap((c: { env?: { name: string; value?: string }[] }) =>
          (c.env ?? []).map((e) => e.value ?? '').filter((v) => /^https?:\/\/[a-z-]+:\d+/.test(v)),
        ),
      );
      const configUrls = byKind(objects, 'ConfigMap').flatMap((c) =>
        Object.values(c.data ?? {}).filter((v) => /^https?:\/\/[a-z-]+:\d+$/.test(v)),
      );
      expect(urls.length).toBeGreaterThan(0);
      for (const url of [...urls, ...configUrls]) {
        const { hostname, port } = new URL(url);
        const svc = services.get(hostname);
        expect(svc, url).toBeDefined();
        expect(
          svc?.spec.ports.map((p: { port: number }) => p.port),
          url,
        ).toContain(Number(port));
      }
    },
  );

  it.each(OVERLAYS)(
    '%s: every ConfigMap and Secret a pod reads is in the render or documented as made by hand',
    (dir) => {
      const objects = objectsOf(dir);
      const names = (kind: string) => new Set(byKind(objects, kind).map((o) => o.metadata.name));
      const configMaps = names('ConfigMap');
      const secrets = names('Secret');
      // Made outside git on purpose (overlays/production/kustomization.yaml says how).
      // The admin token too, in every overlay: production mode refuses a token written in git.
      const outOfBand = new Set(
        dir === 'overlays/production' ? ['departures-upstream', 'failway-admin'] : ['failway-admin'],
      );
      const missing: string[] = [];
      const templates = podTemplates(objects);
      expect(templates.length, 'pod templates').toBeGreaterThan(0);
      for (const { owner, spec } of templates) {
        for (const c of spec.containers) {
          for (const e of c.env ?? []) {
            const cm = e.valueFrom?.configMapKeyRef;
            const s = e.valueFrom?.secretKeyRef;
            if (cm && !cm.optional && !configMaps.has(cm.name))
              missing.push(`${owner.metadata.name}: ConfigMap ${cm.name}`);
            if (s && !s.optional && !secrets.has(s.name) && !outOfBand.has(s.name))
              missing.push(`${owner.metadata.name}: Secret ${s.name}`);
          }
          for (const e of c.envFrom ?? [])
            if (e.configMapRef && !configMaps.has(e.configMapRef.name))
              missing.push(`${owner.metadata.name}: ConfigMap ${e.configMapRef.name}`);
        }
        for (const v of spec.volumes ?? [])
          if (v.configMap && !configMaps.has(v.configMap.name))
            missing.push(`${owner.metadata.name}: ConfigMap ${v.configMap.name}`);
      }
      expect(missing).toEqual([]);
    },
  );

  it('local: rail-sim runs in the cluster and accepts exactly the demo key departures sends', () => {
    const objects = objectsOf('overlays/local');
    const railsim = find(objects, 'Deployment', 'rail-sim').spec.template.spec.containers[0];
    const departures = find(objects, 'Deployment', 'departures').spec.template.spec.containers[0];
    const ref = (c: { env: { name: string; valueFrom?: { secretKeyRef?: unknown } }[] }, name: string) =>
      c.env.find((e) => e.name === name)?.valueFrom?.secretKeyRef;
    expect(ref(railsim, 'RAIL_API_KEYS')).toEqual(ref(departures, 'UPSTREAM_API_KEY'));
    const upstream = byKind(objects, 'ConfigMap').find((c) =>
      c.metadata.name.startsWith('departures-upstream'),
    );
    expect(upstream?.data?.url).toBe('http://rail-sim:8090');
    const secrets = byKind(objects, 'Secret');
    expect(secrets.length, 'Secrets in the local overlay').toBeGreaterThan(0);
    for (const s of secrets) {
      const values = Object.values(s.data ?? {}).map((v) => Buffer.from(v, 'base64').toString());
      for (const v of values) expect(v, `Secret ${s.metadata.name}`).toMatch(/demo/);
    }
  });

  it('production: three departures replicas under an HPA, the real API, no rail-sim and no secret values', () => {
    const objects = objectsOf('overlays/production');
    expect(objects.filter((o) => o.metadata.name === 'rail-sim')).toEqual([]);
    expect(byKind(objects, 'Secret')).toEqual([]);
    const hpa = find(objects, 'HorizontalPodAutoscaler', 'departures');
    expect(hpa.spec.minReplicas).toBe(3);
    // With an HPA the Deployment must not pin replicas, or every apply resets the HPA's choice.
    expect(find(objects, 'Deployment', 'departures').spec.replicas).toBeUndefined();
    const upstream = byKind(objects, 'ConfigMap').find((c) =>
      c.metadata.name.startsWith('departures-upstream'),
    );
    expect(upstream?.data?.url).toMatch(/^https:\/\//);
  });

  it('route-config mounts the routes ConfigMap as a directory it can watch, under a stable name', () => {
    for (const dir of OVERLAYS) {
      const d = find(objectsOf(dir), 'Deployment', 'route-config').spec.template.spec;
      const c = d.containers[0];
      const file = c.env.find((e: { name: string }) => e.name === 'ROUTES_FILE').value as string;
      const mount = c.volumeMounts.find((m: { mountPath: string }) => file.startsWith(`${m.mountPath}/`));
      expect(mount.subPath).toBeUndefined();
      const volume = d.volumes.find((v: { name: string }) => v.name === mount.name);
      expect(volume.configMap.name).toBe('failway-routes');
      const cm = find(objectsOf(dir), 'ConfigMap', 'failway-routes');
      expect(Object.keys(cm.data ?? {})).toEqual([file.slice(mount.mountPath.length + 1)]);
    }
  });

  it('the k6 Job is bounded and runs a script that is in its ConfigMap', () => {
    const objects = objectsOf('loadtest');
    const job = find(objects, 'Job', 'k6');
    expect(job.spec.backoffLimit).toBeGreaterThanOrEqual(0);
    expect(job.spec.backoffLimit).toBeLessThanOrEqual(3);
    expect(job.spec.activeDeadlineSeconds).toBeGreaterThan(0);
    expect(job.spec.ttlSecondsAfterFinished).toBeGreaterThan(0);
    const c = job.spec.template.spec.containers[0];
    const env = Object.fromEntries(c.env.map((e: { name: string; value?: string }) => [e.name, e.value]));
    expect(Object.keys(env)).toEqual(expect.arrayContaining(['BASE_URL', 'RAILSIM_URL', 'ADMIN_TOKEN']));
    expect(c.args.at(-1)).toBe('/scripts/$(K6_SCRIPT)');
    expect(Object.keys(find(objects, 'ConfigMap', 'k6-scripts').data ?? {})).toContain(env.K6_SCRIPT);
    // The scripts import ./lib/*.js; lib is mounted where those imports look.
    const lib = c.volumeMounts.find((m: { mountPath: string }) => m.mountPath === '/scripts/lib');
    expect(
      job.spec.template.spec.volumes.find((v: { name: string }) => v.name === lib.name).configMap.name,
    ).toBe('k6-lib');
  });
});

if (!kustomize.path) it.skip(`Kubernetes manifests: ${kustomize.reason}`, () => undefined);
