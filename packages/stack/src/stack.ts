import { randomBytes } from 'node:crypto';
import { get as httpGet } from 'node:http';
import {
  assertPortFree,
  bindError,
  type LogLine,
  type ServiceProcess,
  type StartOptions,
  serviceUrl,
  startService,
} from './process.ts';

export interface StackPorts {
  gateway: number;
  /** The gateway's ops port (/metrics, /admin/*); 0 or absent: a free port. */
  gatewayOps?: number;
  routeConfig: number;
  departures: [number, number];
  railSim: number;
}

/** The ports of DESIGN.md; tests pass zeros for free ports. */
export const DEFAULT_PORTS: Required<StackPorts> = {
  gateway: 8080,
  gatewayOps: 9080,
  routeConfig: 8081,
  departures: [8082, 8083],
  railSim: 8090,
};

/** Each departures replica's upstream calls leave from its own loopback address. */
export const REPLICA_ADDRESSES = ['127.0.0.2', '127.0.0.3'] as const;

export interface StackOptions {
  ports?: StackPorts;
  adminToken: string;
  /** Extra environment for every service (e.g. OTEL_EXPORTER_OTLP_ENDPOINT). */
  env?: Record<string, string>;
  /** Extra environment per service: `rail-sim`, `route-config`, `departures`, `gateway`. */
  serviceEnv?: Partial<
    Record<'rail-sim' | 'route-config' | 'departures' | 'gateway', Record<string, string>>
  >;
  keepLogs?: boolean;
  onLine?: (label: string, line: LogLine | string) => void;
  /** Told when something about the set-up deserves a word (e.g. no loopback aliases). */
  onNotice?: (message: string) => void;
  /** Aborting during start-up stops what was started and rejects (Ctrl-C while starting). */
  signal?: AbortSignal;
  /** `bundle`: every service from its production build (`npm run build` first); default `source`. */
  build?: 'source' | 'bundle';
  /** Where each `services/<name>/` is (StartOptions.root); default the repository. */
  root?: string;
  /** Per process label (`gateway`, `departures-a`, …): Node flags and a launcher (see StartOptions). */
  processOptions?: (label: string) => Pick<StartOptions, 'nodeArgs' | 'launcher'>;
}

export interface Stack {
  railSim: ServiceProcess;
  routeConfig: ServiceProcess;
  departures: [ServiceProcess, ServiceProcess];
  gateway: ServiceProcess;
  /** The gateway's ops listener: `/metrics` and `/admin/upstreams` are there, not on `gateway.url`. */
  gatewayOpsUrl: string;
  /** The loopback address each replica's upstream calls leave from (null: the default address). */
  replicaAddresses: [string | null, string | null];
  all(): ServiceProcess[];
  /** Stops every process gracefully (gateway first, rail-sim last). */
  stop(): Promise<void>;
}

/** Whether this machine can bind `address` (Linux routes all of 127/8; macOS has only 127.0.0.1). */
export async function canBind(address: string): Promise<boolean> {
  return (await bindError(0, address)) === undefined;
}

/** GET /readyz without connection reuse: the status and body, or the connection error. */
function readyz(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpGet(`${url}/readyz`, { agent: false, timeout: 2_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 2 s')));
    req.on('error', reject);
  });
}

/** Waits until `proc` answers /readyz with 200; rejects saying why not if it exits or times out. */
async function waitReady(proc: ServiceProcess, signal?: AbortSignal, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  let exitCode: number | null | undefined;
  void proc.exited.then((code) => {
    exitCode = code;
  });
  while (Date.now() < deadline) {
    signal?.throwIfAborted();
    if (exitCode !== undefined || proc.child.exitCode !== null || proc.child.signalCode !== null) {
      await new Promise((r) => setTimeout(r, 200)); // let the last lines arrive
      throw new Error(
        `${proc.label} exited with code ${exitCode ?? proc.child.exitCode} before it was ready; its last output:\n${proc.recent.join('\n')}`,
      );
    }
    try {
      const { status, body } = await readyz(proc.url);
      if (status === 200) return;
      last = `${status} ${body}`;
    } catch (error) {
      last = (error as Error).message;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${proc.label} was not ready within ${timeoutMs} ms (${proc.url}/readyz: ${last})`);
}

/** Rejects naming every fixed port that is taken (before anything starts, so nothing is left). */
async function assertPortsFree(wanted: { label: string; port: number; host: string }[]): Promise<void> {
  const problems: string[] = [];
  for (const { label, port, host } of wanted) {
    if (port === 0) continue;
    try {
      await assertPortFree(port, host, label);
    } catch (error) {
      problems.push((error as Error).message);
    }
  }
  if (problems.length) throw new Error(problems.join('\n'));
}

/**
 * Starts the whole application as local processes in dependency order — rail-sim, route-config,
 * two departures replicas with distinct egress addresses, the gateway — and waits until each is
 * ready. A failure part-way stops what was started.
 */
export async function startStack(options: StackOptions): Promise<Stack> {
  const ports = options.ports ?? DEFAULT_PORTS;
  const apiKey = randomBytes(16).toString('hex');
  const common = options.env ?? {};
  const started: ServiceProcess[] = [];
  // Every start under way: on a failure, those still starting are waited for, then stopped too.
  const starting: Promise<ServiceProcess>[] = [];
  const start = (name: string, label: string, env: Record<string, string>): Promise<ServiceProcess> => {
    const promise = launch(name, label, env);
    // Handled here so that one failing while another is awaited is not an unhandled rejection;
    // whoever awaits it still sees the failure.
    promise.catch(() => undefined);
    starting.push(promise);
    return promise;
  };
  const launch = async (name: string, label: string, env: Record<string, string>) => {
    const proc = await startService(
      name,
      { ...common, ...env },
      {
        label,
        keepLogs: options.keepLogs ?? true,
        ...(options.onLine ? { onLine: options.onLine } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
        ...(options.build ? { build: options.build } : {}),
        ...(options.root ? { root: options.root } : {}),
        ...options.processOptions?.(label),
      },
    );
    started.push(proc);
    return proc;
  };
  const stopAll = async () => {
    for (const proc of [...started].reverse()) await proc.stop();
  };
  const hostFor = (service: keyof NonNullable<StackOptions['serviceEnv']>) =>
    options.serviceEnv?.[service]?.HOST ?? common.HOST ?? '127.0.0.1';
  await assertPortsFree([
    { label: 'rail-sim', port: ports.railSim, host: hostFor('rail-sim') },
    { label: 'route-config', port: ports.routeConfig, host: hostFor('route-config') },
    { label: 'departures-a', port: ports.departures[0], host: hostFor('departures') },
    { label: 'departures-b', port: ports.departures[1], host: hostFor('departures') },
    { label: 'gateway', port: ports.gateway, host: hostFor('gateway') },
    { label: 'gateway ops', port: ports.gatewayOps ?? 0, host: hostFor('gateway') },
  ]);
  try {
    const aliases = await Promise.all(REPLICA_ADDRESSES.map(canBind));
    const replicaAddresses = REPLICA_ADDRESSES.map((a, i) => (aliases[i] ? a : null)) as [
      string | null,
      string | null,
    ];
    if (aliases.includes(false)) {
      options.onNotice?.(
        `cannot bind ${REPLICA_ADDRESSES.join(' and ')} here, so both departures replicas call rail-sim from the same address and are banned together (on macOS: sudo ifconfig lo0 alias 127.0.0.2 up; sudo ifconfig lo0 alias 127.0.0.3 up)`,
      );
    }
    // What can start at once does: rail-sim and route-config always, and the replicas with them
    // when rail-sim's port is fixed (npm start: its address is known beforehand; with a free port
    // it is learned from the process). The gateway comes last, once its peers are ready, so its
    // first readiness checks find them up.
    const railSimStart = start('rail-sim', 'rail-sim', {
      PORT: String(ports.railSim),
      RAIL_API_KEYS: apiKey,
      ADMIN_TOKEN: options.adminToken,
      ...options.serviceEnv?.['rail-sim'],
    });
    const routeConfigStart = start('route-config', 'route-config', {
      PORT: String(ports.routeConfig),
      ...options.serviceEnv?.['route-config'],
    });
    const railSimUrl = ports.railSim
      ? serviceUrl(hostFor('rail-sim'), ports.railSim)
      : (await railSimStart).url;
    const replicaStarts = (['a', 'b'] as const).map((suffix, i) =>
      start('departures', `departures-${suffix}`, {
        PORT: String(ports.departures[i]),
        UPSTREAM_URL: railSimUrl,
        UPSTREAM_API_KEY: apiKey,
        SERVICE_INSTANCE_ID: `departures-${suffix}`,
        ...(replicaAddresses[i] ? { UPSTREAM_LOCAL_ADDRESS: replicaAddresses[i] } : {}),
        ...options.serviceEnv?.departures,
      }),
    );
    // allSettled: when one fails, the others are still recorded in `started` and stopped.
    const settled = await Promise.allSettled([railSimStart, routeConfigStart, ...replicaStarts]);
    for (const result of settled) if (result.status === 'rejected') throw result.reason;
    const [railSim, routeConfig, ...departures] = settled.map(
      (r) => (r as PromiseFulfilledResult<ServiceProcess>).value,
    ) as [ServiceProcess, ServiceProcess, ServiceProcess, ServiceProcess];
    await Promise.all([railSim, routeConfig, ...departures].map((proc) => waitReady(proc, options.signal)));
    const gateway = await start('gateway', 'gateway', {
      PORT: String(ports.gateway),
      OPS_PORT: String(ports.gatewayOps ?? 0),
      ROUTE_CONFIG_URL: routeConfig.url,
      // Named as they are labelled here: boards say `departures-a`, never an address.
      DEPARTURES_URLS: departures.map((d) => `${d.label}=${d.url}`).join(','),
      ADMIN_TOKEN: options.adminToken,
      ...options.serviceEnv?.gateway,
    });
    await waitReady(gateway, options.signal);
    return {
      railSim,
      routeConfig,
      departures: departures as [ServiceProcess, ServiceProcess],
      gateway,
      gatewayOpsUrl: gateway.opsUrl as string,
      replicaAddresses,
      all: () => [gateway, ...departures, routeConfig, railSim],
      async stop() {
        for (const proc of [gateway, ...departures, routeConfig, railSim]) await proc.stop();
      },
    };
  } catch (error) {
    await Promise.allSettled(starting);
    await stopAll();
    throw error;
  }
}
