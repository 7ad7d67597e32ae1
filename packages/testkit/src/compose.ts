import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '@failway/stack';
import { parse } from 'yaml';

/** One of compose.yaml's own services (built from the Dockerfile with a SERVICE build arg). */
export interface ComposeNodeService {
  /** The compose service (`departures-a`), which is also its @failway/stack label. */
  name: string;
  /** The services/ directory it is built from (`departures`). */
  service: string;
  /** `deploy.resources.limits.memory` as written (`160M`) and in bytes. */
  memoryLimit: string;
  memoryLimitBytes: number;
  /** Its environment with compose's interpolation done (see readComposeNodeServices). */
  environment: Record<string, string>;
}

const UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** A compose byte value (`160M`, `1.5g`, `512mb`, a number) in bytes; binary units as Docker's. */
export function composeBytes(value: string | number): number {
  if (typeof value === 'number') return value;
  const match = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?$/i.exec(value.trim());
  if (!match) throw new Error(`"${value}" is not a compose byte value (e.g. 160M)`);
  return Math.round(Number(match[1]) * (UNITS[(match[2] ?? '').toLowerCase()] as number));
}

/** KEY=VALUE lines of an env file (compose's .env); comments and blank lines skipped. */
function envFile(path: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (!existsSync(path)) return out;
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const match = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(line);
    if (match && !line.trim().startsWith('#'))
      out[match[1] as string] = (match[2] as string).replace(/^(['"])(.*)\1$/, '$2');
  }
  return out;
}

/**
 * `${VAR}`, `${VAR:-default}`, `${VAR-default}` and `$$` as compose interpolates them, from `vars`;
 * undefined when a variable without a default is not in `vars`.
 */
function interpolate(value: string, vars: Record<string, string | undefined>): string | undefined {
  let missing = false;
  const out = value.replace(
    /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?)-([^}]*))?\}/g,
    (whole, name, colon, fallback) => {
      if (whole === '$$') return '$';
      const set = vars[name as string];
      if (fallback !== undefined) return (colon ? set || undefined : set) ?? (fallback as string);
      if (set === undefined) missing = true;
      return set ?? '';
    },
  );
  return missing ? undefined : out;
}

/**
 * The Node services of compose.yaml as compose would run them: YAML anchors and merge keys
 * (`<<:`) resolved, the environment interpolated from the repository's .env and each variable's
 * default in the file — not from the caller's shell, so the result is what the file ships.
 * Variables with neither are left out of the environment.
 */
export function readComposeNodeServices(
  file = join(REPO_ROOT, 'compose.yaml'),
  vars: Record<string, string | undefined> = envFile(join(REPO_ROOT, '.env')),
): Map<string, ComposeNodeService> {
  const doc = parse(readFileSync(file, 'utf8'), { merge: true, maxAliasCount: -1 }) as {
    services?: Record<
      string,
      {
        build?: { args?: Record<string, string> | string[] };
        deploy?: { resources?: { limits?: { memory?: string | number } } };
        environment?: Record<string, string | number | boolean | null> | string[];
      }
    >;
  };
  const out = new Map<string, ComposeNodeService>();
  for (const [name, spec] of Object.entries(doc.services ?? {})) {
    const args = spec.build?.args;
    const service = Array.isArray(args)
      ? args.find((a) => a.startsWith('SERVICE='))?.slice('SERVICE='.length)
      : args?.SERVICE;
    if (!service) continue;
    const memory = spec.deploy?.resources?.limits?.memory;
    if (memory === undefined)
      throw new Error(`${file}: service ${name} has no deploy.resources.limits.memory`);
    const entries: [string, string | null][] = Array.isArray(spec.environment)
      ? spec.environment.map((e) => {
          const i = e.indexOf('=');
          return i < 0 ? [e, null] : [e.slice(0, i), e.slice(i + 1)];
        })
      : Object.entries(spec.environment ?? {}).map(([k, v]) => [k, v === null ? null : String(v)]);
    const environment: Record<string, string> = {};
    for (const [key, raw] of entries) {
      if (raw === null) continue;
      const value = interpolate(raw, vars);
      if (value !== undefined) environment[key] = value;
    }
    out.set(name, {
      name,
      service,
      memoryLimit: String(memory),
      memoryLimitBytes: composeBytes(memory),
      environment,
    });
  }
  return out;
}
