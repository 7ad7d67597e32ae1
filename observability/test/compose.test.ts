// Static checks of the compose stack and the service image: no container engine needed. Every
// check is a function that returns the problems it finds, so each one is also run against a
// deliberately broken copy to prove it can fail.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { SERVICE_NAMES } from '@failway/stack';
import { REPO_ROOT } from '@failway/testkit';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig as departuresConfig } from '../../services/departures/src/config.ts';
import { loadConfig as gatewayConfig } from '../../services/gateway/src/config.ts';
import { loadConfig as railSimConfig } from '../../services/rail-sim/src/config.ts';
import { loadConfig as routeConfigConfig } from '../../services/route-config/src/config.ts';

const read = (path: string) => readFileSync(resolve(REPO_ROOT, path), 'utf8');
// A CommonJS module whose types declare a default export it does not have.
const dockerignore = createRequire(import.meta.url)(
  '@balena/dockerignore',
) as typeof import('@balena/dockerignore').default;
const readYaml = <T>(path: string): T => parse(read(path), { merge: true }) as T;

interface Healthcheck {
  test?: string[] | string;
  disable?: boolean;
  interval?: string;
  start_period?: string;
  start_interval?: string;
  'x-why'?: string;
}
interface Service {
  image?: string;
  build?: { context: string; args?: Record<string, string> };
  command?: string[];
  entrypoint?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
  profiles?: string[];
  healthcheck?: Healthcheck;
  read_only?: boolean;
  tmpfs?: string[] | string;
  restart?: string;
  logging?: { driver?: string };
  depends_on?: Record<string, { condition: string; 'x-why'?: string }>;
  deploy?: { resources?: { limits?: { memory?: string } } };
}
interface Compose {
  name?: string;
  services: Record<string, Service>;
}

/** KEY=VALUE lines of an env file; comments and blank lines skipped. */
function parseEnvFile(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (m?.[1]) env[m[1]] = m[2] ?? '';
  }
  return env;
}

/**
 * Compose-style interpolation: ${VAR}, ${VAR:-default}, ${VAR-default}, $$ for a literal $.
 * Variables that are neither in `env` nor defaulted are collected in `missing`.
 */
function interpolate<T>(value: T, env: Record<string, string>, missing: Set<string>): T {
  if (typeof value === 'string') {
    return value.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)([^}]*))?\}/g, (whole, name, op, def) => {
      if (whole === '$$') return '$';
      const v = env[name];
      if (op === ':-') return v ? v : def;
      if (op === '-') return v ?? def;
      if (v === undefined) missing.add(name);
      return v ?? '';
    }) as T;
  }
  if (Array.isArray(value)) return value.map((v) => interpolate(v, env, missing)) as T;
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolate(v, env, missing)])) as T;
  }
  return value;
}

const ENV = parseEnvFile(read('.env'));
const RAW: Compose = readYaml<Compose>('compose.yaml');
const missingVars = new Set<string>();
const COMPOSE: Compose = interpolate(RAW, ENV, missingVars);
const DOCKERFILE = read('Dockerfile');

/** Memory like "160M" or "1g" in MiB. */
function mebibytes(value: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmg]?)b?$/i.exec(value.trim());
  if (!m?.[1]) throw new Error(`unreadable memory size ${value}`);
  const n = Number(m[1]);
  const unit = (m[2] ?? '').toLowerCase();
  if (unit === 'g') return n * 1024;
  if (unit === 'm') return n;
  if (unit === 'k') return n / 1024;
  return n / 1024 / 1024;
}

const clone = <T>(v: T): T => structuredClone(v);

// ---- checks ---------------------------------------------------------------------------------

function schemaProblems(compose: unknown): string[] {
  const schema = JSON.parse(read('node_modules/docker-compose/schema/compose-spec.json')) as Record<
    string,
    unknown
  >;
  delete schema.$schema;
  const ajv = new Ajv({ allErrors: true, strict: false, validateFormats: false });
  const validate = ajv.compile(schema);
  if (validate(compose)) return [];
  return (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message}`);
}

function pinningProblems(raw: Compose, env: Record<string, string>): string[] {
  const problems: string[] = [];
  for (const [name, svc] of Object.entries(raw.services)) {
    const m = /:\$\{([A-Z_][A-Z0-9_]*)\}$/.exec(svc.image ?? '');
    if (!m?.[1]) {
      problems.push(`${name}: image "${svc.image}" is not tagged by a variable from .env`);
      continue;
    }
    const version = env[m[1]];
    if (version === undefined) problems.push(`${name}: ${m[1]} is not defined in .env`);
    else if (!/^v?\d+\.\d+\.\d+$/.test(version)) problems.push(`${name}: ${m[1]}=${version} is not x.y.z`);
  }
  return problems;
}

/** Seconds of a compose duration like `2s`, `1m30s`. */
function durationSeconds(value: string): number {
  const units: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600 };
  let total = 0;
  for (const [, n, unit] of value.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g))
    total += Number(n) * (units[unit as string] ?? 0);
  return total;
}

function healthProblems(compose: Compose): string[] {
  const problems: string[] = [];
  for (const [name, svc] of Object.entries(compose.services)) {
    const test = svc.healthcheck?.test;
    const disabled = svc.healthcheck?.disable || (Array.isArray(test) && test[0] === 'NONE');
    if (disabled && !svc.healthcheck?.['x-why']?.trim())
      problems.push(`${name}: healthcheck disabled without an x-why`);
    else if (!disabled && !test) problems.push(`${name}: no healthcheck`);
    if (!svc.deploy?.resources?.limits?.memory) problems.push(`${name}: no memory limit`);
    if (!svc.restart) problems.push(`${name}: no restart policy`);
    if (!svc.logging) problems.push(`${name}: no logging options`);
  }
  return problems;
}

function startProblems(compose: Compose): string[] {
  const problems: string[] = [];
  for (const [name, svc] of Object.entries(compose.services)) {
    const check = svc.healthcheck;
    if (!check?.test || check.disable) continue;
    const first = durationSeconds(check.start_interval ?? check.interval ?? '30s');
    if (first > 5)
      problems.push(
        `${name}: first check ${first} s after the start${check.start_interval ? '' : ' (no start_interval)'}`,
      );
  }
  return problems;
}

function tmpProblems(compose: Compose): string[] {
  const problems: string[] = [];
  for (const [name, svc] of Object.entries(compose.services)) {
    if (!svc.read_only) continue;
    const tmp = [svc.tmpfs ?? []].flat().find((t) => t.split(':')[0] === '/tmp');
    if (!tmp) problems.push(`${name}: read_only without a tmpfs /tmp`);
    else if (!/size=\d+[km]\b/.test(tmp)) problems.push(`${name}: tmpfs /tmp without a size (${tmp})`);
  }
  return problems;
}

function tempoProblems(configText: string, compose: Compose): string[] {
  const config = parse(configText) as {
    usage_report?: { reporting_enabled?: boolean };
    storage: { trace: { wal: { path: string }; local: { path: string } } };
    metrics_generator: { storage: { path: string } };
  };
  const problems: string[] = [];
  if (config.usage_report?.reporting_enabled !== false)
    problems.push('usage_report.reporting_enabled is not false');
  const mounts = (compose.services.tempo?.volumes ?? [])
    .filter((v) => !v.startsWith('.'))
    .map((v) => v.split(':')[1] ?? '');
  const paths = [
    config.storage.trace.wal.path,
    config.storage.trace.local.path,
    config.metrics_generator.storage.path,
  ];
  for (const path of paths)
    if (!mounts.some((m) => path.startsWith(`${m}/`))) problems.push(`${path} is not on a volume`);
  return problems;
}

/** The version of the syslog-ng the native tests find (Debian's), or undefined without one. */
function nativeSyslogNg(): string | undefined {
  const binary = ['/usr/sbin/syslog-ng', '/usr/bin/syslog-ng'].find((b) => existsSync(b));
  if (!binary) return undefined;
  const out = spawnSync(binary, ['--version'], { encoding: 'utf8', timeout: 10_000 });
  return /syslog-ng \d+ \((\d+\.\d+\.\d+)/.exec(`${out.stdout}${out.stderr}`)?.[1];
}

/**
 * The config file's `@version` must be the major.minor of the image compose runs and of the native
 * syslog-ng, or syslog-ng runs it in compatibility mode (or refuses a newer one).
 */
function syslogVersionProblems(conf: string, image: string, native: string | undefined): string[] {
  const declared = /^@version:\s*(\d+\.\d+)/m.exec(conf)?.[1];
  if (!declared) return ['syslog-ng.conf has no @version'];
  const line = (v: string) => v.split('.').slice(0, 2).join('.');
  const problems: string[] = [];
  if (line(image) !== declared)
    problems.push(`syslog-ng.conf declares @version: ${declared}, the image is ${image}`);
  if (native && line(native) !== declared)
    problems.push(`syslog-ng.conf declares @version: ${declared}, the native tests run ${native}`);
  return problems;
}

/** Sum of the memory limits of the services that start without a profile, in MiB. */
function defaultStackMemory(compose: Compose): number {
  return Object.values(compose.services)
    .filter((svc) => !svc.profiles?.length)
    .reduce((sum, svc) => sum + mebibytes(svc.deploy?.resources?.limits?.memory ?? '0'), 0);
}

function dependencyProblems(compose: Compose): string[] {
  const problems: string[] = [];
  for (const [name, svc] of Object.entries(compose.services)) {
    for (const [dep, spec] of Object.entries(svc.depends_on ?? {})) {
      const target = compose.services[dep];
      if (!target) problems.push(`${name} depends on unknown service ${dep}`);
      else if (spec.condition === 'service_healthy') {
        if (!target.healthcheck?.test) problems.push(`${name} waits for ${dep}, which has no healthcheck`);
      } else if (!spec['x-why']?.trim()) {
        problems.push(`${name} → ${dep}: condition ${spec.condition} without an x-why saying why`);
      }
    }
  }
  return problems;
}

function mountProblems(compose: Compose): string[] {
  const problems: string[] = [];
  for (const [name, svc] of Object.entries(compose.services)) {
    for (const volume of svc.volumes ?? []) {
      const source = volume.split(':')[0] ?? '';
      if (source.startsWith('.') && !existsSync(resolve(REPO_ROOT, source))) {
        problems.push(`${name}: ${source} does not exist`);
      }
    }
    if (svc.build && !existsSync(resolve(REPO_ROOT, svc.build.context, 'Dockerfile'))) {
      problems.push(`${name}: no Dockerfile in build context ${svc.build.context}`);
    }
  }
  return problems;
}

/** The listening port of each Failway service as its own config.ts reads the compose environment. */
function servicePorts(compose: Compose): Map<string, number> {
  const ports = new Map<string, number>();
  for (const [name, svc] of Object.entries(compose.services)) {
    const env = { ...svc.environment };
    const arg = svc.build?.args?.SERVICE;
    if (arg === 'rail-sim') ports.set(name, railSimConfig(env).PORT);
    if (arg === 'route-config') ports.set(name, routeConfigConfig(env).PORT);
    if (arg === 'departures') ports.set(name, departuresConfig(env).PORT);
    if (arg === 'gateway') ports.set(name, gatewayConfig(env).PORT);
  }
  return ports;
}

const DEFAULT_PORTS: Record<string, number> = {
  'rail-sim': railSimConfig({ RAIL_API_KEYS: 'k' }).PORT,
  'route-config': routeConfigConfig({}).PORT,
  departures: departuresConfig({ UPSTREAM_API_KEY: 'k' }).PORT,
  gateway: gatewayConfig({}).PORT,
};

/** The gateway's ops port (/metrics, /admin/*) as its config.ts reads the compose environment. */
function opsPorts(compose: Compose): Map<string, number> {
  const ports = new Map<string, number>();
  for (const [name, svc] of Object.entries(compose.services))
    if (svc.build?.args?.SERVICE === 'gateway')
      ports.set(name, gatewayConfig({ ...svc.environment }).OPS_PORT);
  return ports;
}

function portProblems(compose: Compose, prometheusTargets: string[]): string[] {
  const problems: string[] = [];
  const ports = servicePorts(compose);
  const ops = opsPorts(compose);
  for (const [name, port] of ports) {
    const svc = compose.services[name] as Service;
    const arg = svc.build?.args?.SERVICE ?? '';
    if (port !== DEFAULT_PORTS[arg]) {
      problems.push(`${name} listens on ${port}, its config default is ${DEFAULT_PORTS[arg]}`);
    }
    for (const published of svc.ports ?? []) {
      const container = Number(published.split(':').at(-1));
      if (container !== port)
        problems.push(`${name} publishes container port ${container}, listens on ${port}`);
    }
  }
  const urls = Object.values(compose.services).flatMap((svc) =>
    Object.values(svc.environment ?? {}).flatMap((v) => String(v).match(/https?:\/\/[a-z0-9-]+:\d+/g) ?? []),
  );
  for (const address of [...urls.map((u) => u.replace(/^https?:\/\//, '')), ...prometheusTargets]) {
    const [host, port] = address.split(':');
    const expected = ports.get(host ?? '');
    if (expected !== undefined && Number(port) !== expected && Number(port) !== ops.get(host ?? '')) {
      problems.push(`${address}: ${host} listens on ${expected}`);
    }
  }
  return problems;
}

interface Stage {
  name: string;
  lines: string[];
}

/** Dockerfile instructions (continuations joined) grouped by FROM stage. */
function dockerStages(text: string): Stage[] {
  const instructions = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const stages: Stage[] = [];
  for (const line of instructions) {
    const from = /^FROM\s+\S+(?:\s+AS\s+(\S+))?/i.exec(line);
    if (from) stages.push({ name: from[1] ?? `stage${stages.length}`, lines: [] });
    else stages.at(-1)?.lines.push(line);
  }
  return stages;
}

function dockerfileProblems(text: string): string[] {
  const problems: string[] = [];
  const runtime = dockerStages(text).at(-1);
  if (!runtime) return ['no stages'];
  const users = runtime.lines.filter((l) => /^USER\s/i.test(l));
  const user = users.at(-1)?.split(/\s+/)[1];
  if (!user || user === 'root' || user === '0' || user.startsWith('0:')) {
    problems.push(`runtime stage runs as ${user ?? 'root (no USER)'}`);
  }
  const entrypoint = runtime.lines.find((l) => /^ENTRYPOINT\s/i.test(l)) ?? '';
  if (!/tini|dumb-init/.test(entrypoint))
    problems.push(`PID 1 is not an init: ${entrypoint || 'no ENTRYPOINT'}`);
  for (const copy of runtime.lines.filter((l) => /^(COPY|ADD)\s/i.test(l))) {
    if (!/--from=/.test(copy)) problems.push(`runtime copies from the build context: ${copy}`);
    // The bundle holds every dependency: node_modules in the image would only hide a missing one.
    if (/node_modules/.test(copy)) problems.push(`runtime copies node_modules: ${copy}`);
    if (/\bsrc\b|\btest\b|\.ts\b/.test(copy)) problems.push(`runtime copies sources or tests: ${copy}`);
  }
  // What the runtime stage takes from the build stage is /out; nothing but the manifest, bundle/
  // and the data folders may be put there, and declarations must be deleted from it.
  const build = dockerStages(text).find((s) => s.name === 'build');
  const assembled = build?.lines.join('\n') ?? '';
  for (const m of assembled.matchAll(/cp (?:-R )?"([^"]+)" "\/out/g)) {
    if (!/(package\.json|\/bundle|\/\$\{data\})$/.test(m[1] ?? ''))
      problems.push(`build puts ${m[1]} into /out`);
  }
  if (!/-name '\*\.d\.ts' -delete/.test(assembled)) problems.push('declarations are not removed from /out');
  if (!/-name '\*\.map' -delete/.test(assembled)) problems.push('source maps are not removed from /out');
  return problems;
}

/**
 * What the Dockerfile copies from the build context (every stage's COPY without --from, with
 * `${SERVICE}` as each service) that .dockerignore keeps out of it, read as Docker reads it
 * (exceptions such as `!scripts/bundle.ts` included): a build would fail there, and no native
 * test builds an image.
 */
function contextProblems(dockerfile: string, ignoreFile: string): string[] {
  const SERVICE_ARG = /\$\{SERVICE\}/;
  const ignored = dockerignore().add(ignoreFile.split('\n'));
  const sources = dockerStages(dockerfile)
    .flatMap((stage) => stage.lines)
    .filter((line) => /^COPY\s/i.test(line) && !/--from=/.test(line))
    .flatMap((line) =>
      line
        .split(/\s+/)
        .slice(1, -1)
        .filter((arg) => !arg.startsWith('--')),
    )
    .flatMap((src) =>
      SERVICE_ARG.test(src) ? SERVICE_NAMES.map((name) => src.replace(SERVICE_ARG, name)) : [src],
    )
    .map((src) => src.replace(/\/+$/, ''));
  return [...new Set(sources)].flatMap((src) => {
    if (!existsSync(resolve(REPO_ROOT, src))) return [`${src} does not exist`];
    return ignored.ignores(src) ? [`${src} is ignored`] : [];
  });
}

// ---- tests ----------------------------------------------------------------------------------

describe('compose.yaml', () => {
  it('uses only variables that .env defines or that have a default', () => {
    expect([...missingVars]).toEqual([]);
  });

  it('validates against the compose-spec JSON schema', () => {
    expect(schemaProblems(COMPOSE)).toEqual([]);
    const broken = clone(COMPOSE) as unknown as { services: Record<string, Record<string, unknown>> };
    (broken.services.gateway as Record<string, unknown>).restart_policy = 'always';
    (broken.services.loki as Record<string, unknown>).ports = 3100;
    expect(schemaProblems(broken).length).toBeGreaterThan(1);
  });

  it('pins every image by a version variable from .env, never latest', () => {
    expect(pinningProblems(RAW, ENV)).toEqual([]);
    const broken = clone(RAW);
    (broken.services.grafana as Service).image = 'grafana/grafana:latest';
    expect(pinningProblems(broken, ENV)).toHaveLength(1);
    expect(pinningProblems(RAW, { ...ENV, LOKI_VERSION: 'latest' })).toEqual([
      'loki: LOKI_VERSION=latest is not x.y.z',
    ]);
  });

  it('gives every service a healthcheck, a memory limit, a restart policy and bounded logs', () => {
    expect(healthProblems(COMPOSE)).toEqual([]);
    const broken = clone(COMPOSE);
    (broken.services.tempo as Service).healthcheck = { disable: true, test: ['NONE'] };
    delete (broken.services.gateway as Service).deploy;
    (broken.services.loki as Service).healthcheck = { disable: true };
    expect(healthProblems(broken)).toEqual([
      'gateway: no memory limit',
      'loki: healthcheck disabled without an x-why',
      'tempo: healthcheck disabled without an x-why',
    ]);
  });

  // `docker compose up --wait` waits for every healthcheck's first success: without
  // start_interval the first check runs one `interval` after the start.
  it('checks health every few seconds while a container starts, so `up --wait` returns soon after', () => {
    expect(startProblems(COMPOSE)).toEqual([]);
    const broken = clone(COMPOSE);
    (broken.services.loki as Service).healthcheck = {
      test: ['CMD', 'x'],
      interval: '60s',
      start_period: '10s',
    };
    expect(startProblems(broken)).toEqual(['loki: first check 60 s after the start (no start_interval)']);
  });

  it('gives every read-only service a small tmpfs /tmp', () => {
    expect(tmpProblems(COMPOSE)).toEqual([]);
    const readOnly = Object.entries(COMPOSE.services).filter(([, svc]) => svc.read_only);
    expect(readOnly.map(([n]) => n).sort()).toEqual([
      'departures-a',
      'departures-b',
      'gateway',
      'rail-sim',
      'route-config',
    ]);
    const broken = clone(COMPOSE);
    delete (broken.services.gateway as Service).tmpfs;
    expect(tmpProblems(broken)).toEqual(['gateway: read_only without a tmpfs /tmp']);
  });

  it('keeps the default stack within 2 GiB, as its header says', () => {
    const total = defaultStackMemory(COMPOSE);
    expect(total).toBeLessThanOrEqual(2048);
    expect(read('compose.yaml')).toContain(`add up to ${total} MiB`);
    const broken = clone(COMPOSE);
    (broken.services.grafana as Service).deploy = { resources: { limits: { memory: '1g' } } };
    expect(defaultStackMemory(broken)).toBeGreaterThan(2048);
  });

  it('waits for dependencies to be healthy, or says why not', () => {
    expect(dependencyProblems(COMPOSE)).toEqual([]);
    expect(COMPOSE.services.gateway?.depends_on?.['departures-a']?.condition).toBe('service_healthy');
    const broken = clone(COMPOSE);
    (broken.services.gateway as Service).depends_on = { 'route-config': { condition: 'service_started' } };
    expect(dependencyProblems(broken)).toHaveLength(1);
  });

  it('mounts only files and folders that exist in the repository', () => {
    expect(mountProblems(COMPOSE)).toEqual([]);
    const broken = clone(COMPOSE);
    (broken.services.loki as Service).volumes = ['./observability/loki/nope.yaml:/etc/loki/loki.yaml:ro'];
    expect(mountProblems(broken)).toHaveLength(1);
  });

  it("runs each service on its config's default port, and every URL and scrape target agrees", () => {
    const prom = readYaml<{ scrape_configs: { static_configs: { targets: string[] }[] }[] }>(
      'observability/prometheus/prometheus.yml',
    );
    const targets = prom.scrape_configs.flatMap((j) => j.static_configs.flatMap((s) => s.targets));
    expect(portProblems(COMPOSE, targets)).toEqual([]);
    expect([...servicePorts(COMPOSE)].sort()).toEqual([
      ['departures-a', 8082],
      ['departures-b', 8082],
      ['gateway', 8080],
      ['rail-sim', 8090],
      ['route-config', 8081],
    ]);
    const broken = clone(COMPOSE);
    (broken.services.gateway as Service).environment = {
      ...broken.services.gateway?.environment,
      DEPARTURES_URLS: 'http://departures-a:8083,http://departures-b:8082',
    };
    expect(portProblems(broken, [...targets, 'rail-sim:9999'])).toHaveLength(2);
  });

  it('scrapes the gateway on its ops port, which compose does not publish (only the public port is)', async () => {
    const prom = readYaml<{
      scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[];
    }>('observability/prometheus/prometheus.yml');
    const ops = opsPorts(COMPOSE).get('gateway');
    expect(ops).toBe(9080);
    const gatewayJob = prom.scrape_configs.find((j) => j.job_name === 'gateway');
    expect(gatewayJob?.static_configs.flatMap((c) => c.targets)).toEqual([`gateway:${ops}`]);
    const published = COMPOSE.services.gateway?.ports ?? [];
    expect(published.map((p) => p.split(':').at(-1))).toEqual(['8080']);
    const broken = clone(COMPOSE);
    (broken.services.gateway as Service).ports = [...published, '127.0.0.1:9080:9080'];
    expect(portProblems(broken, [])).toEqual(['gateway publishes container port 9080, listens on 8080']);
  });

  it('gives every Failway service telemetry to the collector and syslog-ng, and a name', () => {
    const collector = COMPOSE.services['otel-collector'] as Service;
    const syslog = COMPOSE.services['syslog-ng'] as Service;
    for (const name of ['rail-sim', 'route-config', 'departures-a', 'departures-b', 'gateway']) {
      const env = COMPOSE.services[name]?.environment ?? {};
      expect(env.OTEL_EXPORTER_OTLP_ENDPOINT, name).toBe('http://otel-collector:4318');
      expect(env.SYSLOG_HOST, name).toBe('syslog-ng');
      expect(env.SYSLOG_PORT, name).toBe(syslog.environment?.SYSLOG_NG_LISTEN_PORT);
      expect(env.OTEL_SERVICE_NAME, name).toBe(name.replace(/-[ab]$/, ''));
      expect(env.HOST, name).toBe('0.0.0.0');
    }
    expect(syslog.environment?.SYSLOG_NG_FORWARD_HOST).toBe('otel-collector');
    expect((collector as { expose?: string[] }).expose).toEqual(
      expect.arrayContaining(['4318', syslog.environment?.SYSLOG_NG_FORWARD_PORT]),
    );
    // Two client IPs for rail-sim, and the k6 profile bans exactly those.
    const a = COMPOSE.services['departures-a'] as unknown as {
      networks: Record<string, { ipv4_address: string }>;
    };
    const b = COMPOSE.services['departures-b'] as unknown as {
      networks: Record<string, { ipv4_address: string }>;
    };
    expect(a.networks.failway?.ipv4_address).not.toBe(b.networks.failway?.ipv4_address);
    expect(COMPOSE.services.k6?.environment?.REPLICA_IPS).toBe(
      `${a.networks.failway?.ipv4_address},${b.networks.failway?.ipv4_address}`,
    );
  });

  it("matches the README's compose section", () => {
    const readme = read('README.md');
    const section = readme.slice(
      readme.indexOf('## Full stack with Docker Compose'),
      readme.indexOf('## Tests'),
    );
    const running = Object.values(COMPOSE.services).filter((svc) => !svc.profiles?.length).length;
    expect(section).toContain(`starts ${running} containers`);
    expect(section).toContain(`${ENV.DEPARTURES_A_IP} (A) and ${ENV.DEPARTURES_B_IP} (B)`);
    expect(section).toContain(`"ip":"${ENV.DEPARTURES_A_IP}"`);
    for (const port of ['GATEWAY_PORT', 'GRAFANA_PORT', 'PROMETHEUS_PORT', 'RAILSIM_PORT']) {
      expect(section, port).toContain(`http://localhost:${ENV[port]}`);
    }
    // .env does not set it: the default in compose.yaml applies.
    expect(COMPOSE.services.grafana?.environment?.GF_SECURITY_ADMIN_PASSWORD).toBe('failway');
    expect(section).toContain('`admin` / `failway`');
    expect(section).toContain('anonymous visitors are Editors');
  });

  it('starts Prometheus with the flags its config header asks for', () => {
    const header = read('observability/prometheus/prometheus.yml');
    const flags = [...header.matchAll(/^#\s+(--[a-z.-]+(?:=[a-z-]+)?)/gm)].map((m) => m[1]);
    expect(flags.length).toBeGreaterThanOrEqual(2);
    expect(COMPOSE.services.prometheus?.command).toEqual(expect.arrayContaining(flags));
  });

  it("hands the load tests' storm settings from the shell to every service that reads them", () => {
    // The settings docs/load-testing.md tells users to start the compose stack with.
    const section = read('docs/load-testing.md').split('## Running against compose')[1] ?? '';
    const command = /```sh\n([A-Z][^`]*?docker compose up -d)/.exec(section)?.[1] ?? '';
    const settings = Object.fromEntries(
      [...command.matchAll(/\b([A-Z][A-Z0-9_]+)=(\S+)/g)].map((m) => [m[1], m[2]]),
    );
    expect(Object.keys(settings).length).toBeGreaterThanOrEqual(8);
    const withShell = interpolate(RAW, { ...ENV, ...settings }, new Set());
    const readers = Object.entries(withShell.services).filter(([, svc]) => svc.build?.args?.SERVICE);
    for (const [name, value] of Object.entries(settings)) {
      const wanted = readers.filter(([, svc]) =>
        read(`services/${svc.build?.args?.SERVICE}/src/config.ts`).includes(`${name}:`),
      );
      expect(wanted.length, `no service reads ${name}`).toBeGreaterThan(0);
      for (const [service, svc] of wanted) expect(svc.environment?.[name], `${service} ${name}`).toBe(value);
    }
  });

  it('pins the collector, k6 and Node as the native builds and .nvmrc do', () => {
    expect(read('observability/otel-collector/builder-config.yaml')).toContain(
      `otlpreceiver v${ENV.OTELCOL_VERSION}`,
    );
    expect(read('scripts/build-k6.sh')).toContain(`VERSION="\${1:-v${ENV.K6_VERSION}}"`);
    expect(DOCKERFILE).toContain(`ARG NODE_VERSION=${ENV.NODE_VERSION}`);
    expect(ENV.NODE_VERSION?.split('.')[0]).toBe(read('.nvmrc').trim());
  });
});

describe('Dockerfile', () => {
  it('runs as a non-root user under an init, and ships no sources, tests or source maps', () => {
    expect(dockerfileProblems(DOCKERFILE)).toEqual([]);
    expect(dockerfileProblems(DOCKERFILE.replace('USER node', 'USER root'))).toHaveLength(1);
    expect(dockerfileProblems(DOCKERFILE.replace(/^ENTRYPOINT .*$/m, ''))).toHaveLength(1);
    expect(
      dockerfileProblems(DOCKERFILE.replace('COPY --from=build /out/ ./', 'COPY services/ ./services/')),
    ).toHaveLength(1);
    expect(dockerfileProblems(DOCKERFILE.replace('/bundle" "/out', '/src" "/out'))).toHaveLength(1);
    expect(
      dockerfileProblems(
        DOCKERFILE.replace(
          'COPY --from=build /out/ ./',
          'COPY --from=build /app/node_modules ./node_modules',
        ),
      ),
    ).toHaveLength(1);
    expect(dockerfileProblems(DOCKERFILE.replace("-name '*.d.ts' -delete -o ", ''))).toHaveLength(1);
  });

  it('starts every service with its own `start:bundle` command', () => {
    const cmd = /^CMD (\[.*\])$/m.exec(DOCKERFILE)?.[1] ?? '[]';
    const command = (JSON.parse(cmd) as string[]).join(' ');
    for (const service of SERVICE_NAMES) {
      const pkg = JSON.parse(read(`services/${service}/package.json`)) as { scripts: Record<string, string> };
      expect(pkg.scripts['start:bundle'], service).toBe(command);
    }
  });

  it('is built by compose once per service, with the version from .env', () => {
    const built = Object.entries(COMPOSE.services).filter(([, s]) => s.build);
    expect(built.map(([, s]) => s.build?.args?.SERVICE).sort()).toEqual([
      'departures',
      'departures',
      'gateway',
      'rail-sim',
      'route-config',
    ]);
    for (const [name, svc] of built) {
      expect(svc.image, name).toBe(`ghcr.io/failway/${svc.build?.args?.SERVICE}:${ENV.FAILWAY_VERSION}`);
      expect(svc.build?.args?.VERSION, name).toBe(ENV.FAILWAY_VERSION);
    }
  });

  it('lets in every path it copies from the build context', () => {
    const ignoreFile = read('.dockerignore');
    expect(contextProblems(DOCKERFILE, ignoreFile)).toEqual([]);
    expect(contextProblems(DOCKERFILE, ignoreFile.replace('!scripts/bundle.ts\n', ''))).toEqual([
      'scripts/bundle.ts is ignored',
    ]);
  });

  it('keeps node_modules, git, tests, tools and test output out of the build context', () => {
    const ignored = read('.dockerignore')
      .split('\n')
      .map((l) => l.trim());
    for (const entry of [
      '**/node_modules',
      '.git',
      '**/test',
      '.tools',
      'test-output',
      '**/dist',
      '**/bundle',
    ]) {
      expect(ignored, entry).toContain(entry);
    }
  });
});

describe('Loki and Tempo configuration', () => {
  it('Loki keeps structured metadata and indexes only service_name and level from OTLP', () => {
    const loki = readYaml<{
      limits_config: {
        allow_structured_metadata: boolean;
        otlp_config: {
          resource_attributes: {
            ignore_defaults: boolean;
            attributes_config: { action: string; attributes: string[] }[];
          };
        };
      };
      common: { storage: { filesystem: unknown } };
    }>('observability/loki/loki.yaml');
    expect(loki.limits_config.allow_structured_metadata).toBe(true);
    const resource = loki.limits_config.otlp_config.resource_attributes;
    expect(resource.ignore_defaults).toBe(true);
    const indexed = resource.attributes_config
      .filter((c) => c.action === 'index_label')
      .flatMap((c) => c.attributes);
    expect(indexed.sort()).toEqual(['level', 'service.name']);
    expect(loki.common.storage.filesystem).toBeTruthy();
    const volume = COMPOSE.services.loki?.volumes?.find((v) => v.endsWith(':/loki'));
    expect(volume, 'a volume holds /loki').toBeTruthy();
  });

  it('Tempo takes OTLP gRPC on 4317 and remote-writes span metrics (not a second service graph) to Prometheus', () => {
    const tempo = readYaml<{
      distributor: { receivers: { otlp: { protocols: { grpc: { endpoint: string } } } } };
      metrics_generator: { storage: { remote_write: { url: string; send_exemplars: boolean }[] } };
      overrides: { defaults: { metrics_generator: { processors: string[] } } };
      storage: { trace: { backend: string } };
    }>('observability/tempo/tempo.yaml');
    expect(tempo.distributor.receivers.otlp.protocols.grpc.endpoint).toBe('0.0.0.0:4317');
    expect(tempo.metrics_generator.storage.remote_write).toEqual([
      { url: 'http://prometheus:9090/api/v1/write', send_exemplars: true },
    ]);
    // The collector's service_graph connector already makes traces_service_graph_*; Tempo making
    // them too would count every edge twice.
    expect(tempo.overrides.defaults.metrics_generator.processors).toEqual(['span-metrics']);
    expect(tempo.storage.trace.backend).toBe('local');
    expect(COMPOSE.services.prometheus?.command).toContain('--web.enable-remote-write-receiver');
    // The 2.x-only blocks Tempo 3 rejects.
    expect(Object.keys(tempo)).not.toContain('ingester');
    expect(Object.keys(tempo)).not.toContain('compactor');
  });

  it('Tempo reports no usage to Grafana Labs and keeps its traces in a volume', () => {
    expect(tempoProblems(read('observability/tempo/tempo.yaml'), COMPOSE)).toEqual([]);
    const inContainer = read('observability/tempo/tempo.yaml').replaceAll('/var/tempo/', '/tmp/tempo/');
    expect(tempoProblems(inContainer, COMPOSE)).toHaveLength(3);
    const reporting = read('observability/tempo/tempo.yaml').replace(/^usage_report:\n.*\n/m, '');
    expect(tempoProblems(reporting, COMPOSE)).toEqual(['usage_report.reporting_enabled is not false']);
  });
});

describe('the collector and syslog-ng in compose', () => {
  it('gives the collector a GOMEMLIMIT below its memory limit, as Kubernetes does', () => {
    const k8s = read('k8s/components/observability/otel-collector.yaml');
    expect(k8s).toMatch(/name: GOMEMLIMIT\s+value: \d+MiB/);
    const collector = COMPOSE.services['otel-collector'] as Service;
    const limit = mebibytes(collector.deploy?.resources?.limits?.memory ?? '0');
    const soft = mebibytes(collector.environment?.GOMEMLIMIT?.replace('MiB', 'M') ?? '0');
    expect(soft).toBeGreaterThan(limit * 0.6);
    expect(soft).toBeLessThanOrEqual(limit * 0.8);
    // No healthcheck that starts a second collector inside the same memory limit.
    expect(RAW.services['otel-collector']?.healthcheck?.test ?? []).not.toContain('validate');
  });

  it('runs the syslog-ng line the config file declares and the native tests run', () => {
    const conf = read('observability/syslog/syslog-ng.conf');
    expect(syslogVersionProblems(conf, ENV.SYSLOG_NG_VERSION ?? '', nativeSyslogNg())).toEqual([]);
    expect(syslogVersionProblems(conf, '4.10.2', nativeSyslogNg())).toEqual([
      'syslog-ng.conf declares @version: 3.38, the image is 4.10.2',
    ]);
    expect(
      syslogVersionProblems(conf.replace('@version: 3.38', '@version: 4.10'), '3.38.1', '3.38.1'),
    ).toEqual([
      'syslog-ng.conf declares @version: 4.10, the image is 3.38.1',
      'syslog-ng.conf declares @version: 4.10, the native tests run 3.38.1',
    ]);
  });
});
