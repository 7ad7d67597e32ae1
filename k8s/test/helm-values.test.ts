import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  DATASOURCE_URLS,
  dashboardFiles,
  grafanaDatasourceValues,
  OUTPUTS,
  REPO_ROOT,
  SOURCES,
} from '../generate.ts';
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

  const generated = parse(readFileSync(join(REPO_ROOT, OUTPUTS.grafanaDatasources), 'utf8'));

  it('Grafana has a datasource for every uid the dashboards use, and loads the generated dashboard ConfigMaps', () => {
    const provided = new Set<string>(
      generated.grafana.additionalDataSources.map((d: { uid: string }) => d.uid),
    );
    const used = dashboardDatasourceUids();
    expect(used.size).toBeGreaterThan(0);
    for (const uid of used) expect(provided, uid).toContain(uid);
    expect(kps.grafana.sidecar.dashboards.label).toBe('grafana_dashboard');
    expect(kps.grafana.sidecar.dashboards.searchNamespace).toBe('ALL');
    expect(text('components/observability/generated/grafana-dashboards.yaml')).toContain(
      'grafana_dashboard: "1"',
    );
  });

  // Hand-written values drifted from compose's provisioning (no tracesToLogsV2 tags or query, no
  // tracesToMetrics); now they are generated from it and only the addresses differ.
  it("Grafana's data sources are compose's, at the Helm releases' addresses", () => {
    const compose = parse(readFileSync(join(REPO_ROOT, SOURCES.datasources), 'utf8')).datasources as {
      url: string;
    }[];
    const k8s = generated.grafana.additionalDataSources as { url: string }[];
    expect(k8s.map(({ url, ...rest }) => rest)).toEqual(compose.map(({ url, ...rest }) => rest));
    expect(k8s.map((d) => d.url)).toEqual(compose.map((d) => DATASOURCE_URLS[d.url]));
    const tempo = k8s.find((d) => (d as { uid?: string }).uid === 'tempo') as unknown as {
      jsonData: {
        tracesToLogsV2: { tags: unknown[]; query: string };
        tracesToMetrics: { queries: unknown[] };
      };
    };
    expect(tempo.jsonData.tracesToLogsV2.tags.length).toBeGreaterThan(0);
    expect(tempo.jsonData.tracesToLogsV2.query).toContain('trace_id');
    expect(tempo.jsonData.tracesToMetrics.queries.length).toBeGreaterThan(0);
    // The chart's own Prometheus data source (another uid, no exemplar label) is off, and nothing
    // else defines data sources, so these are Grafana's.
    expect(kps.grafana.sidecar.datasources.defaultDatasourceEnabled).toBe(false);
    expect(kps.grafana.additionalDataSources).toBeUndefined();
    // The chart passes additionalDataSources through `tpl`: a `{{` would be read as a template.
    expect(readFileSync(join(REPO_ROOT, OUTPUTS.grafanaDatasources), 'utf8')).not.toContain('{{');
    // Every address is one the Helm releases give (release names from the values headers).
    expect(Object.values(DATASOURCE_URLS)).toEqual([
      `http://${kps.fullnameOverride}-prometheus.monitoring:9090`,
      'http://loki.monitoring:3100',
      'http://tempo.monitoring:3200',
    ]);
    expect(() => grafanaDatasourceValues('datasources: [{name: X, url: "http://x:1"}]')).toThrow(
      /no Kubernetes address/,
    );
  });

  it('Tempo comes from the maintained chart repository, listens only for OTLP gRPC and reports no usage', () => {
    const tempo = values('tempo-values.yaml');
    const header = text('helm/tempo-values.yaml');
    expect(header).toContain(
      'helm repo add grafana-community https://grafana-community.github.io/helm-charts',
    );
    expect(header).toMatch(/helm upgrade --install tempo grafana-community\/tempo --version \d+\.\d+\.\d+/);
    const docs = readFileSync(join(REPO_ROOT, 'docs/kubernetes.md'), 'utf8');
    expect(docs).toMatch(/grafana-community\/tempo --version \d+\.\d+\.\d+/);
    expect(docs).not.toMatch(/grafana\/tempo --version/);
    expect(tempo.tempo.reportingEnabled).toBe(false);
    // The chart's default receivers (Jaeger, OpenCensus, OTLP HTTP) removed with null; the only
    // receiver left on is OTLP gRPC. A receiver key the defaults lack must not appear at all.
    const receivers = tempo.tempo.receivers as Record<string, unknown>;
    expect(receivers).toEqual({
      jaeger: null,
      opencensus: null,
      otlp: { protocols: { grpc: { endpoint: '0.0.0.0:4317' }, http: null } },
    });
    expect(tempo.tempo.server.http_listen_port).toBe(3200);
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
