import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { findKubeScore, findKustomize, K8S_DIR, RENDERED, renderYaml } from './render.ts';

interface Ignores {
  ignore: { test: string; reason: string }[];
  flags: Record<string, { args: string[]; reason: string }>;
}

const ignores = parse(readFileSync(join(K8S_DIR, 'kube-score-ignores.yaml'), 'utf8')) as Ignores;

/** The same command scripts/k8s-lint.sh runs. */
function kubeScoreArgs(dir: string): string[] {
  return [
    'score',
    '--output-format',
    'ci',
    '--kubernetes-version',
    'v1.32',
    '--exit-one-on-warning',
    '--enable-optional-test',
    'container-seccomp-profile',
    '--enable-optional-test',
    'container-ports-check',
    ...ignores.ignore.flatMap((i) => ['--ignore-test', i.test]),
    ...(ignores.flags[dir]?.args ?? []),
    '-',
  ];
}

const kustomize = findKustomize();
const kubeScore = findKubeScore();
const reason = kustomize.reason || kubeScore.reason;

describe.skipIf(Boolean(reason))('kube-score', () => {
  it('every ignored check says why', () => {
    for (const i of ignores.ignore) expect(i.reason.length, i.test).toBeGreaterThan(40);
    for (const [dir, f] of Object.entries(ignores.flags)) expect(f.reason.length, dir).toBeGreaterThan(40);
  });

  it.each(RENDERED)('%s passes with no warning', (dir) => {
    const yaml = renderYaml(kustomize.path as string, dir);
    let output = '';
    let failed = false;
    try {
      output = execFileSync(kubeScore.path as string, kubeScoreArgs(dir), {
        input: yaml,
        encoding: 'utf8',
        timeout: 60_000,
      });
    } catch (error) {
      failed = true;
      output = String((error as { stdout?: string }).stdout ?? error);
    }
    const findings = output.split('\n').filter((l) => /^\[(CRITICAL|WARNING)\]/.test(l));
    expect(findings).toEqual([]);
    expect(failed).toBe(false);
    // It did look at the objects (a broken pipe would pass with no findings).
    expect(output).toMatch(/^\[OK\] /m);
  });
});

if (reason) it.skip(`kube-score: ${reason}`, () => undefined);
