import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '@failway/testkit';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { dashboardFiles, k6Files, ruleFiles, SOURCES, staleFiles } from '../generate.ts';
import { byKind, find, findKustomize, type K8sObject, render } from './render.ts';

const read = (path: string) => readFileSync(join(REPO_ROOT, path), 'utf8');

describe('npm run k8s:generate', () => {
  it('--check finds every generated file equal to its source', () => {
    expect(staleFiles()).toEqual([]);
    // The command CI and users run, not only the function.
    const out = execFileSync(process.execPath, ['--conditions=source', 'k8s/generate.ts', '--check'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(out).toContain('up to date');
  });
});

const kustomize = findKustomize();

describe.skipIf(!kustomize.path)(
  'what the cluster gets equals observability/, services/ and loadtest/',
  () => {
    let local: K8sObject[];
    let loadtest: K8sObject[];
    beforeAll(() => {
      local = render(kustomize.path as string, 'overlays/local');
      loadtest = render(kustomize.path as string, 'loadtest');
    });

    it("one PrometheusRule per rules file, whose groups are the file's groups", () => {
      const rules = byKind(local, 'PrometheusRule');
      expect(ruleFiles().length).toBeGreaterThan(0);
      expect(rules.length).toBe(ruleFiles().length);
      for (const file of ruleFiles()) {
        const name = `failway-${file
          .split('/')
          .pop()
          ?.replace(/\.yml$/, '')}`;
        const source = parse(read(file)) as { groups: unknown[] };
        expect(source.groups.length).toBeGreaterThan(0);
        expect(find(local, 'PrometheusRule', name).spec.groups).toEqual(source.groups);
      }
    });

    it('one Grafana dashboard ConfigMap per dashboard, labelled for the sidecar, holding the JSON unchanged', () => {
      const configMaps = byKind(local, 'ConfigMap').filter(
        (c) => c.metadata.labels?.grafana_dashboard === '1',
      );
      expect(configMaps.length).toBe(dashboardFiles().length);
      expect(configMaps.length).toBeGreaterThan(0);
      for (const file of dashboardFiles()) {
        const key = file.split('/').pop() as string;
        const cm = configMaps.find((c) => c.data?.[key] !== undefined);
        expect(cm, file).toBeDefined();
        expect(cm?.data?.[key]).toBe(read(file));
        expect(JSON.parse(cm?.data?.[key] ?? '{}').uid).toBeTruthy();
      }
    });

    it('the collector runs the same config as compose', () => {
      const cm = byKind(local, 'ConfigMap').find((c) => c.metadata.name.startsWith('otel-collector-config'));
      expect(cm?.data?.['config.yaml']).toBe(read(SOURCES.collectorConfig));
      const collector = find(local, 'Deployment', 'otel-collector').spec.template.spec;
      expect(collector.volumes.find((v: { name: string }) => v.name === 'config').configMap.name).toBe(
        cm?.metadata.name,
      );
      const image = collector.containers[0].image as string;
      // The builder manifest pins the collector version the native tests build; the image must match.
      const manifest = read('observability/otel-collector/builder-config.yaml');
      const version = /otlpreceiver v(\d+\.\d+\.\d+)/.exec(manifest)?.[1];
      expect(image).toBe(`otel/opentelemetry-collector-contrib:${version}`);
    });

    it("route-config serves the repository's routes file", () => {
      expect(find(local, 'ConfigMap', 'failway-routes').data?.['routes.yaml']).toBe(read(SOURCES.routes));
    });

    it('the k6 Job has every load test script and its lib', () => {
      const { scripts, lib } = k6Files();
      expect(scripts.length).toBeGreaterThan(0);
      expect(lib.length).toBeGreaterThan(0);
      const data = (name: string) => find(loadtest, 'ConfigMap', name).data ?? {};
      for (const f of scripts) expect(data('k6-scripts')[f.split('/').pop() as string], f).toBe(read(f));
      for (const f of lib) expect(data('k6-lib')[f.split('/').pop() as string], f).toBe(read(f));
      expect(Object.keys(data('k6-lib')).length).toBe(lib.length);
    });
  },
);

if (!kustomize.path) it.skip(`generated Kubernetes objects: ${kustomize.reason}`, () => undefined);
