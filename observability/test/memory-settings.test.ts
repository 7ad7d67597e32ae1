// The memory settings every way the services run must agree: the heap flags (NODE_OPTIONS) of the
// image, compose, Kubernetes and npm start/the tests/the bench (packages/stack), and the memory
// limits of compose and Kubernetes. docs/performance.md gives the measurements behind them;
// e2e/memory.e2e.test.ts proves each service stays inside its compose limit under load.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, SERVICE_MEMORY_ENV, SERVICE_NODE_OPTIONS } from '@failway/stack';
import { composeBytes, readComposeNodeServices } from '@failway/testkit';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';

const SERVICES = ['gateway', 'departures', 'route-config', 'rail-sim'] as const;
const K8S_FILES: Record<(typeof SERVICES)[number], string> = {
  gateway: 'k8s/base/gateway.yaml',
  departures: 'k8s/base/departures.yaml',
  'route-config': 'k8s/base/route-config.yaml',
  'rail-sim': 'k8s/rail-sim/rail-sim.yaml',
};

interface Container {
  name: string;
  env?: { name: string; value?: string }[];
  resources?: { requests?: { memory?: string }; limits?: { memory?: string } };
}

/** The first container of the Deployment in a base manifest. */
function k8sContainer(file: string): Container {
  const docs = parseAllDocuments(readFileSync(join(REPO_ROOT, file), 'utf8')).map((d) => d.toJS());
  const deployment = docs.find((d) => d?.kind === 'Deployment');
  const container = deployment?.spec?.template?.spec?.containers?.[0] as Container | undefined;
  if (!container) throw new Error(`${file} has no Deployment container`);
  return container;
}

/** `160Mi` in bytes. */
function k8sBytes(value: string | undefined): number {
  const match = /^(\d+)(Ki|Mi|Gi)$/.exec(value ?? '');
  if (!match) throw new Error(`"${value}" is not a Kubernetes binary quantity`);
  return Number(match[1]) * { Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3 }[match[2] as 'Ki' | 'Mi' | 'Gi'];
}

const compose = readComposeNodeServices();

describe('memory settings', () => {
  it('sets heap flags that bound both V8 generations (old space and semi-space)', () => {
    expect(SERVICE_NODE_OPTIONS).toMatch(/^--max-old-space-size=\d+ --max-semi-space-size=\d+$/);
  });

  it('gives the image, every compose service and every Kubernetes Deployment the memory settings npm start uses', () => {
    expect(Object.keys(SERVICE_MEMORY_ENV).sort()).toEqual(
      ['MALLOC_ARENA_MAX', 'MALLOC_TRIM_THRESHOLD_', 'NODE_OPTIONS'].sort(),
    );
    const dockerfile = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8');
    // The runtime stage's ENV instruction, continued lines joined.
    const runtimeEnv = /^ENV (?:.*\\\n)*.*$/m.exec(dockerfile.slice(dockerfile.indexOf('AS runtime')))?.[0];
    expect([...compose.keys()].sort()).toEqual(
      ['departures-a', 'departures-b', 'gateway', 'rail-sim', 'route-config'].sort(),
    );
    for (const [key, value] of Object.entries(SERVICE_MEMORY_ENV)) {
      const quoted = value.includes(' ') ? `"${value}"` : value;
      expect(`${runtimeEnv} `, `Dockerfile ${key}`).toContain(` ${key}=${quoted} `);
      for (const [name, svc] of compose) expect(svc.environment[key], `${name} ${key}`).toBe(value);
      for (const service of SERVICES) {
        const env = k8sContainer(K8S_FILES[service]).env ?? [];
        expect(env.find((e) => e.name === key)?.value, `${service} ${key}`).toBe(value);
      }
    }
  });

  it('gives each service the same memory limit in compose and Kubernetes, with the request at or below it', () => {
    for (const [name, svc] of compose) {
      const container = k8sContainer(K8S_FILES[svc.service as (typeof SERVICES)[number]]);
      const limit = k8sBytes(container.resources?.limits?.memory);
      expect(limit, `${name}: Kubernetes limit vs compose ${svc.memoryLimit}`).toBe(
        composeBytes(svc.memoryLimit),
      );
      expect(k8sBytes(container.resources?.requests?.memory)).toBeLessThanOrEqual(limit);
    }
  });

  it("keeps V8's largest heap plus what is not heap inside the smallest limit", () => {
    const flag = (name: string) => Number(new RegExp(`--${name}=(\\d+)`).exec(SERVICE_NODE_OPTIONS)?.[1]);
    // Old space, plus the young generation (two semi-spaces and new large objects: 3 × the
    // semi-space, generously), plus 32 MiB that is not V8 heap (code, buffers, stacks; measured
    // 25–30 MiB of anonymous memory besides the heap, docs/performance.md).
    const worstMiB = flag('max-old-space-size') + 3 * flag('max-semi-space-size') + 32;
    const smallest = Math.min(...[...compose.values()].map((s) => s.memoryLimitBytes));
    expect(worstMiB * 1024 ** 2).toBeLessThanOrEqual(smallest);
  });
});
