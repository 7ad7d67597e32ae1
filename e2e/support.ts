import { type Stack, startStack } from '@failway/stack';
import { type OtlpReceiver, simOffsetToLondonHour, startOtlpReceiver } from '@failway/testkit';

export const ADMIN = 'e2e-admin-token';
export const ZERO_PORTS = { gateway: 0, routeConfig: 0, departures: [0, 0] as [number, number], railSim: 0 };

/** The whole application on free ports, exporting spans to a local OTLP receiver. */
export async function startApp(
  serviceEnv: Parameters<typeof startStack>[0]['serviceEnv'] = {},
): Promise<{ stack: Stack; otlp: OtlpReceiver; stop(): Promise<void> }> {
  const otlp = await startOtlpReceiver();
  const stack = await startStack({
    ports: ZERO_PORTS,
    adminToken: ADMIN,
    // Every request traced: the tests look for the trace of requests they make in bursts.
    env: {
      OTEL_EXPORTER_OTLP_ENDPOINT: otlp.endpoint,
      OTEL_BSP_SCHEDULE_DELAY: '100',
      TRACES_PER_SECOND: 'all',
    },
    serviceEnv: {
      ...serviceEnv,
      // Boards show the morning peak whenever the tests run.
      'rail-sim': {
        SIM_TIME_OFFSET_MIN: String(simOffsetToLondonHour(8)),
        LATENCY_MIN_MS: '5',
        LATENCY_MAX_MS: '30',
        ...serviceEnv['rail-sim'],
      },
      departures: { BAN_PROBE_INTERVAL_S: '2', ...serviceEnv.departures },
      // The tests send far more than a person would, from one address; the limits have their own tests.
      gateway: {
        HEALTH_CHECK_INTERVAL_MS: '300',
        RATE_LIMIT_PER_MIN: '100000',
        NEW_ROUTES_PER_CLIENT_PER_MIN: '100000',
        ...serviceEnv.gateway,
      },
    },
  });
  return {
    stack,
    otlp,
    async stop() {
      await stack.stop();
      await otlp.close();
    },
  };
}

export async function railSimAdmin(
  stack: Stack,
  path: string,
  method: string,
  body?: unknown,
): Promise<Response> {
  return fetch(`${stack.railSim.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

export interface Member {
  name: string;
  state: string;
  bannedUntil: string | null;
  circuit: string;
}

export async function upstreams(stack: Stack): Promise<Member[]> {
  const res = await fetch(`${stack.gatewayOpsUrl}/admin/upstreams`, {
    headers: { authorization: `Bearer ${ADMIN}` },
  });
  return ((await res.json()) as { members: Member[] }).members;
}
