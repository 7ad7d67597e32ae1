import { resolve4 } from 'node:dns/promises';
import type { Logger } from '@failway/telemetry';
import { dnsMemberName } from './member-names.ts';
import type { DeparturesPool } from './pool.ts';

/**
 * Keeps the pool in step with a headless Service's A records (one per ready pod), so replicas
 * added or removed by Kubernetes join or leave without a restart.
 */
export function discoverByDns(
  target: string,
  pool: DeparturesPool,
  logger: Logger,
  refreshMs: number,
): () => void {
  const [host, port] = target.split(':') as [string, string];
  let last = '';
  const refresh = async () => {
    try {
      const urls = (await resolve4(host)).sort().map((ip) => `http://${ip}:${port}`);
      const key = urls.join(',');
      if (key !== last) {
        last = key;
        const members = urls.map((url) => ({ name: dnsMemberName(url), url }));
        pool.sync(members);
        logger.info('departures replicas discovered', {
          dns: target,
          members: members.map((m) => `${m.name}=${m.url}`),
        });
      }
    } catch (error) {
      logger.warn('departures DNS lookup failed; keeping the replicas known so far', {
        dns: target,
        error: (error as Error).message,
      });
    }
  };
  void refresh();
  const timer = setInterval(() => void refresh(), refreshMs);
  timer.unref();
  return () => clearInterval(timer);
}
