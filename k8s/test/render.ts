import { execFileSync } from 'node:child_process';
import { homedir } from 'node:os';
import { basename, join } from 'node:path';
import { findTool, REPO_ROOT } from '@failway/testkit';
import { parseAllDocuments } from 'yaml';

/** A rendered Kubernetes object, loosely typed: tests read what they check. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  // biome-ignore lint/suspicious/noExplicitAny: rendered YAML; each test narrows what it reads
  spec?: any;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}

export const K8S_DIR = join(REPO_ROOT, 'k8s');
const CACHE = process.env.FAILWAY_CACHE ?? join(homedir(), '.cache', 'failway');

/** The overlays users apply, and the k6 Job's kustomization (applied on top of local). */
export const OVERLAYS = ['overlays/local', 'overlays/production'] as const;
export const RENDERED = [...OVERLAYS, 'loadtest'] as const;

/** kubectl (its built-in kustomize) or a standalone kustomize, as scripts/install-tools.sh leaves them. */
export function findKustomize() {
  return findTool('kustomize (kubectl or kustomize)', 'KUSTOMIZE_BIN', [
    '/usr/bin/kubectl',
    '/usr/local/bin/kubectl',
    join(CACHE, 'kustomize-v5.5.0', 'kustomize'),
  ]);
}

export function findKubeScore() {
  return findTool('kube-score', 'KUBE_SCORE_BIN', [join(CACHE, 'kube-score-v1.20.0', 'kube-score')]);
}

/** The YAML `kustomize build` prints for a directory under k8s/. */
export function renderYaml(tool: string, dir: string): string {
  const args =
    basename(tool) === 'kubectl' ? ['kustomize', join(K8S_DIR, dir)] : ['build', join(K8S_DIR, dir)];
  return execFileSync(tool, args, { encoding: 'utf8', timeout: 60_000, maxBuffer: 64 * 1024 * 1024 });
}

export function parseObjects(yamlText: string): K8sObject[] {
  return parseAllDocuments(yamlText)
    .map((doc) => {
      if (doc.errors.length > 0) throw new Error(doc.errors.map((e) => e.message).join('\n'));
      return doc.toJS() as K8sObject | null;
    })
    .filter((o): o is K8sObject => o !== null);
}

export function render(tool: string, dir: string): K8sObject[] {
  return parseObjects(renderYaml(tool, dir));
}

export const byKind = (objects: K8sObject[], kind: string) => objects.filter((o) => o.kind === kind);

export function find(objects: K8sObject[], kind: string, name: string): K8sObject {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (!found) throw new Error(`no ${kind} ${name} in the render`);
  return found;
}

/** Workloads with a pod template: [owner, pod template]. */
export function podTemplates(
  objects: K8sObject[],
  // biome-ignore lint/suspicious/noExplicitAny: see K8sObject.spec
): { owner: K8sObject; labels: Record<string, string>; spec: any }[] {
  return objects
    .filter((o) => ['Deployment', 'StatefulSet', 'DaemonSet', 'Job'].includes(o.kind))
    .map((o) => ({ owner: o, labels: o.spec.template.metadata?.labels ?? {}, spec: o.spec.template.spec }));
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: {
    key: string;
    operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
    values?: string[];
  }[];
}

/** Kubernetes label selector semantics; an empty selector matches everything. */
export function selects(selector: LabelSelector | undefined, labels: Record<string, string>): boolean {
  if (!selector) return true;
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, e.key);
    const value = labels[e.key] ?? '';
    const ok =
      e.operator === 'In'
        ? has && (e.values ?? []).includes(value)
        : e.operator === 'NotIn'
          ? !has || !(e.values ?? []).includes(value)
          : e.operator === 'Exists'
            ? has
            : !has;
    if (!ok) return false;
  }
  return true;
}
