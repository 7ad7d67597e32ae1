import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { dashboardFiles, REPO_ROOT } from '../generate.ts';
import { K8S_DIR } from './render.ts';

// biome-ignore lint/suspicious/noExplicitAny: Helm values are free-form YAML
const values = (name: string): any => parse(readFileSync(join(K8S_DIR, 'helm', name), 'utf8'));
const text = (path: string) => readFileSync(join(K8S_DIR, path), 'utf8');

/** Every datasource uid the committed dashboards point at. */
function dashboardDatasourceUids(): Set<string> {
  const uids = new Set<string>();
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(walk);
    else if (node && typeof node === 'object') {
      const ds = (node as { datasource?: { uid?: string; type?: string } }).datasource;
      if (ds?.uid && ds.type !== 'grafana' && !ds.uid.startsWith('$') && !ds.uid.startsWith('--'))
        uids.add(ds.uid);
      Object.values(node).forEach(walk);
    }
  };
  for (const f of dashboardFiles()) walk(JSON.parse(readFileSync(join(REPO_ROOT, f), 'utf8')));
  return uids;
}

describe('Helm values for the monitoring stack', () => {
  const kps = values('kube-prometheus-stack-values.yaml');

  it('Grafana has a datasource for every uid the dashboards use, and loads the generated dashboard ConfigMaps', () => {
    const provided = new Set<string>([
      kps.grafana.sidecar.datasources.uid,
      ...kps.grafana.additionalDataSources.map((d: { uid: string }) => d.uid),
    ]);
    const used = dashboardDatasourceUids();
    expect(used.size).toBeGreaterThan(0);
    for (const uid of used) expect(provided, uid).toContain(uid);
    expect(kps.grafana.sidecar.dashboards.label).toBe('grafana_dashboard');
    expect(kps.grafana.sidecar.dashboards.searchNamespace).toBe('ALL');
    expect(text('components/observability/generated/grafana-dashboards.yaml')).toContain(
      'grafana_dashboard: "1"',
    );
  });

  it('Prometheus picks up our monitors and rules, keeps exemplars and accepts k6 remote writes', () => {
    const spec = kps.prometheus.prometheusSpec;
    expect(spec.serviceMonitorSelectorNilUsesHelmValues).toBe(false);
    expect(spec.ruleSelectorNilUsesHelmValues).toBe(false);
    expect(spec.enableFeatures).toContain('exemplar-storage');
    expect(spec.enableRemoteWriteReceiver).toBe(true);
    // The k6 Job writes to the Service this release name gives.
    expect(text('loadtest/k6-job.yaml')).toContain(
      `http://${kps.fullnameOverride}-prometheus.monitoring:9090/api/v1/write`,
    );
  });

  it('Loki and Tempo are where the collector, Grafana and Alloy send and ask', () => {
    const collector = text('components/observability/otel-collector.yaml');
    expect(collector).toContain('tempo.monitoring.svc.cluster.local:4317');
    expect(collector).toContain('http://loki.monitoring.svc.cluster.local:3100/otlp');
    expect(Object.keys(values('tempo-values.yaml').tempo.receivers.otlp.protocols)).toContain('grpc');
    expect(values('loki-values.yaml').loki.limits_config.allow_structured_metadata).toBe(true);
    const alloy = values('alloy-values.yaml').alloy.configMap.content as string;
    expect(alloy).toContain('http://loki.monitoring:3100/loki/api/v1/push');
    // The Logs dashboard filters on these labels and fields.
    for (const key of ['service_name', 'level', 'request_id', 'trace_id']) expect(alloy).toContain(key);
  });
});
