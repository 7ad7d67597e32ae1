import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { type LogLine, type ServiceProcess, startService, waitFor } from './process.ts';

export interface StackPorts {
  gateway: number;
  routeConfig: number;
  departures: [number, number];
  railSim: number;
}

/** The ports of DESIGN.md; tests pass zeros for free ports. */
export const DEFAULT_PORTS: StackPorts = {
  gateway: 8080,
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
}

export interface Stack {
  railSim: ServiceProcess;
  routeConfig: ServiceProcess;
  departures: [ServiceProcess, ServiceProcess];
  gateway: ServiceProcess;
  /** The loopback address each replica's upstream calls leave from (null: the default address). */
  replicaAddresses: [string | null, string | null];
  all(): ServiceProcess[];
  /** Stops every process gracefully (gateway first, rail-sim last). */
  stop(): Promise<void>;
}

/** Whether this machine can bind `address` (Linux routes all of 127/8; macOS has only 127.0.0.1). */
export async function canBind(address: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(0, address, () => server.close(() => resolve(true)));
  });
}

async function waitReady(proc: ServiceProcess): Promise<void> {
  await waitFor(
    `${proc.label} to be ready`,
    async () => ((await fetch(`${proc.url}/readyz`)).status === 200 ? true : undefined),
    {
      timeoutMs: 20_000,
      intervalMs: 100,
    },
  );
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
  const start = async (name: string, label: string, env: Record<string, string>) => {
    const proc = await startService(
      name,
      { ...common, ...env },
      { label, keepLogs: options.keepLogs ?? true, ...(options.onLine ? { onLine: options.onLine } : {}) },
    );
    started.push(proc);
    return proc;
  };
  const stopAll = async () => {
    for (const proc of [...started].reverse()) await proc.stop();
  };
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
    const railSim = await start('rail-sim', 'rail-sim', {
      PORT: String(ports.railSim),
      RAIL_API_KEYS: apiKey,
      ADMIN_TOKEN: options.adminToken,
      ...options.serviceEnv?.['rail-sim'],
    });
    const routeConfig = await start('route-config', 'route-config', {
      PORT: String(ports.routeConfig),
      ...options.serviceEnv?.['route-config'],
    });
    const departures = (await Promise.all(
      (['a', 'b'] as const).map((suffix, i) =>
        start('departures', `departures-${suffix}`, {
          PORT: String(ports.departures[i]),
          UPSTREAM_URL: railSim.url,
          UPSTREAM_API_KEY: apiKey,
          SERVICE_INSTANCE_ID: `departures-${suffix}`,
          ...(replicaAddresses[i] ? { UPSTREAM_LOCAL_ADDRESS: replicaAddresses[i] } : {}),
          ...options.serviceEnv?.departures,
        }),
      ),
    )) as [ServiceProcess, ServiceProcess];
    await Promise.all([railSim, routeConfig, ...departures].map(waitReady));
    const gateway = await start('gateway', 'gateway', {
      PORT: String(ports.gateway),
      ROUTE_CONFIG_URL: routeConfig.url,
      DEPARTURES_URLS: departures.map((d) => d.url).join(','),
      ADMIN_TOKEN: options.adminToken,
      ...options.serviceEnv?.gateway,
    });
    await waitReady(gateway);
    return {
      railSim,
      routeConfig,
      departures,
      gateway,
      replicaAddresses,
      all: () => [gateway, ...departures, routeConfig, railSim],
      async stop() {
        for (const proc of [gateway, ...departures, routeConfig, railSim]) await proc.stop();
      },
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
