import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { findCollector, findTool, REPO_ROOT } from '@failway/testkit';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';

const COLLECTOR_DIR = resolve(REPO_ROOT, 'observability/otel-collector');
const MANIFEST = join(COLLECTOR_DIR, 'builder-config.yaml');
const CONFIGS = {
  'config.yaml': join(COLLECTOR_DIR, 'config.yaml'),
  'config.native.yaml': join(COLLECTOR_DIR, 'config.native.yaml'),
};
const SYSLOG_NG_CONF = resolve(REPO_ROOT, 'observability/syslog/syslog-ng.conf');

const KINDS = ['receivers', 'processors', 'connectors', 'exporters', 'extensions'] as const;
type Kind = (typeof KINDS)[number];

// The type name each manifest module registers at v0.158.0; checked against the binary's own
// `components` listing below whenever the binary is at hand.
const TYPE_OF_MODULE: Record<string, string> = {
  otlpreceiver: 'otlp',
  syslogreceiver: 'syslog',
  memorylimiterprocessor: 'memory_limiter',
  batchprocessor: 'batch',
  resourceprocessor: 'resource',
  transformprocessor: 'transform',
  groupbyattrsprocessor: 'groupbyattrs',
  servicegraphconnector: 'service_graph',
  otlpexporter: 'otlp_grpc',
  otlphttpexporter: 'otlp_http',
  fileexporter: 'file',
  prometheusexporter: 'prometheus',
  healthcheckextension: 'health_check',
};

/** Values for every ${env:…} the native config reads (loopback ports need not be free to validate). */
const NATIVE_ENV: Record<string, string> = {
  OTLP_GRPC_PORT: '14317',
  OTLP_HTTP_PORT: '14318',
  SYSLOG_RECEIVER_PORT: '15514',
  HEALTH_CHECK_PORT: '23133',
  OTELCOL_METRICS_PORT: '18888',
  PROMETHEUS_EXPORTER_PORT: '18889',
  TRACES_FILE: join(tmpdir(), 'failway-validate-traces.jsonl'),
  LOGS_FILE: join(tmpdir(), 'failway-validate-logs.jsonl'),
};

interface Manifest {
  [kind: string]: { gomod: string }[] | unknown;
}
interface CollectorConfig {
  [kind: string]: Record<string, unknown> | undefined;
  service: {
    extensions?: string[];
    pipelines: Record<string, { receivers: string[]; processors?: string[]; exporters: string[] }>;
  };
}

const readYaml = <T>(path: string): T => parse(readFileSync(path, 'utf8')) as T;
const typeOf = (id: string) => id.split('/')[0] as string;
const sorted = (values: Iterable<string>) => [...new Set(values)].sort();

function manifestModules(kind: Kind): string[] {
  const list = (readYaml<Manifest>(MANIFEST)[kind] ?? []) as { gomod: string }[];
  return list.map((c) => c.gomod);
}

function manifestTypes(kind: Kind): string[] {
  return sorted(
    manifestModules(kind).map((gomod) => {
      const module = gomod.split(' ')[0]?.split('/').pop() ?? '';
      const type = TYPE_OF_MODULE[module];
      if (!type) throw new Error(`no type name known for ${gomod}: add it to TYPE_OF_MODULE`);
      return type;
    }),
  );
}

/** The component IDs the service section actually wires up, per kind. */
function usedIds(config: CollectorConfig): Record<Kind, string[]> {
  const pipelines = Object.values(config.service.pipelines);
  const exporters = pipelines.flatMap((p) => p.exporters);
  const receivers = pipelines.flatMap((p) => p.receivers);
  const connectors = Object.keys(config.connectors ?? {});
  return {
    receivers: sorted(receivers.filter((id) => !connectors.includes(id))),
    processors: sorted(pipelines.flatMap((p) => p.processors ?? [])),
    connectors: sorted([...receivers, ...exporters].filter((id) => connectors.includes(id))),
    exporters: sorted(exporters.filter((id) => !connectors.includes(id))),
    extensions: sorted(config.service.extensions ?? []),
  };
}

describe('the collector configs and the builder manifest', () => {
  const configs = Object.entries(CONFIGS).map(
    ([name, path]) => [name, readYaml<CollectorConfig>(path)] as const,
  );

  it.each(configs)(
    '%s wires up every component it defines, and defines every one it wires up',
    (_, config) => {
      const used = usedIds(config);
      for (const kind of KINDS) expect(used[kind], kind).toEqual(sorted(Object.keys(config[kind] ?? {})));
    },
  );

  it.each(KINDS)('the manifest lists exactly the %s types the two configs use', (kind) => {
    const types = sorted(configs.flatMap(([, config]) => usedIds(config)[kind].map(typeOf)));
    // Every kind has at least one component, so an unreadable manifest or config cannot pass.
    expect(types.length, `${kind} used by the configs`).toBeGreaterThan(0);
    expect(manifestTypes(kind)).toEqual(types);
  });

  it('the native config runs the receivers, processors and connectors of config.yaml, in the same pipelines', () => {
    const [compose, native] = configs.map(([, c]) => c) as [CollectorConfig, CollectorConfig];
    expect(Object.keys(native.receivers ?? {})).toEqual(Object.keys(compose.receivers ?? {}));
    // Only the default deployment environment differs: "compose" there, "native" here.
    const neutral = (c: CollectorConfig) =>
      stringify({ processors: c.processors, connectors: c.connectors }).replace(/:-(compose|native)\}/g, '}');
    expect(neutral(native)).toBe(neutral(compose));
    const shape = (c: CollectorConfig) =>
      Object.fromEntries(
        Object.entries(c.service.pipelines).map(([id, p]) => [
          id,
          {
            receivers: p.receivers,
            processors: p.processors,
            exporters: p.exporters.filter((e) => e === 'service_graph'),
          },
        ]),
      );
    expect(shape(native)).toEqual(shape(compose));
  });

  it('keeps memory_limiter first and batch last in every pipeline', () => {
    for (const [name, config] of configs) {
      for (const [id, pipeline] of Object.entries(config.service.pipelines)) {
        const processors = pipeline.processors ?? [];
        expect(processors[0], `${name} ${id}`).toBe('memory_limiter');
        expect(processors.at(-1), `${name} ${id}`).toBe('batch');
      }
    }
  });
});

const collector = findCollector();
if (!collector.path) console.warn(collector.reason);

function runCollector(args: string[], env: Record<string, string> = {}) {
  const result = spawnSync(collector.path as string, args, {
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, ...env },
  });
  if (result.error) throw result.error;
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

describe.skipIf(!collector.path)('the collector binary', () => {
  it('is built from the current manifest, and TYPE_OF_MODULE names its components right', () => {
    const { status, output } = runCollector(['components']);
    expect(status, output).toBe(0);
    const listing = parse(output) as Record<string, { name: string; module: string }[]>;
    for (const kind of KINDS) {
      const built = (listing[kind] ?? []).map((c) => c.module).sort();
      expect(built.length, `${kind} in the binary`).toBeGreaterThan(0);
      expect(built, `${kind}: rebuild with scripts/build-collector.sh`).toEqual(manifestModules(kind).sort());
      for (const c of listing[kind] ?? []) {
        const module = c.module.split(' ')[0]?.split('/').pop() ?? '';
        expect(TYPE_OF_MODULE[module], c.module).toBe(c.name);
      }
    }
  });

  it.each(Object.entries(CONFIGS))('validates %s', (_, path) => {
    const { status, output } = runCollector(['validate', `--config=${path}`], NATIVE_ENV);
    expect(status, output).toBe(0);
  });

  it('rejects a config naming a component the build does not have (so validate is a real check)', () => {
    const config = readYaml<CollectorConfig>(CONFIGS['config.native.yaml']);
    config.processors = { ...config.processors, spanmetrics: {} };
    config.service.pipelines.traces?.processors?.splice(1, 0, 'spanmetrics');
    const tmp = mkdtempSync(join(tmpdir(), 'failway-collector-'));
    try {
      const path = join(tmp, 'broken.yaml');
      writeFileSync(path, stringify(config));
      const { status, output } = runCollector(['validate', `--config=${path}`], NATIVE_ENV);
      expect(status).not.toBe(0);
      expect(output).toMatch(/spanmetrics/);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});

const syslogNg = findTool('syslog-ng', 'SYSLOG_NG_PATH', ['/usr/sbin/syslog-ng', '/usr/bin/syslog-ng']);
if (!syslogNg.path) console.warn(syslogNg.reason);

describe.skipIf(!syslogNg.path)('observability/syslog/syslog-ng.conf', () => {
  const env = {
    SYSLOG_NG_LISTEN_IP: '127.0.0.1',
    SYSLOG_NG_LISTEN_PORT: '15140',
    SYSLOG_NG_LOG_DIR: join(tmpdir(), 'failway-syslog-syntax'),
    SYSLOG_NG_FORWARD_HOST: '127.0.0.1',
    SYSLOG_NG_FORWARD_PORT: '15514',
  };
  const check = (vars: Record<string, string>) => {
    const result = spawnSync(syslogNg.path as string, ['--syntax-only', '-f', SYSLOG_NG_CONF], {
      encoding: 'utf8',
      timeout: 30_000,
      env: { PATH: process.env.PATH ?? '', ...vars },
    });
    return { status: result.status, output: `${result.stdout}${result.stderr}` };
  };

  it('passes syslog-ng --syntax-only with its environment set', () => {
    const { status, output } = check(env);
    expect(status, output).toBe(0);
  });

  it('fails, naming the line, when a port variable is unset (the file has no defaults)', () => {
    const { SYSLOG_NG_LISTEN_PORT: _, ...rest } = env;
    const { status, output } = check(rest);
    expect(status).not.toBe(0);
    expect(output).toContain('SYSLOG_NG_LISTEN_PORT');
  });
});
