// npm start: the whole application as local processes, no Docker. Streams every service's logs
// with its name, prints where everything is, and stops everything gracefully on Ctrl-C.
// check-node first: on a Node that strips types but is not 24 it says so before anything else.
import './check-node.mjs';
import { DEFAULT_PORTS, type LogLine, type Stack, startStack } from '@failway/stack';

const adminToken = process.env.ADMIN_TOKEN || 'dev-admin-token';
const raw = process.env.LOG_FORMAT === 'json';
const useColour = process.stdout.isTTY && !process.env.NO_COLOR;
const COLOURS: Record<string, string> = {
  gateway: '36',
  'route-config': '35',
  'departures-a': '32',
  'departures-b': '33',
  'rail-sim': '34',
};
const LEVEL_COLOURS: Record<string, string> = { error: '31', warn: '33' };
const paint = (code: string | undefined, text: string) =>
  useColour && code ? `\u001b[${code}m${text}\u001b[0m` : text;
const HIDDEN = new Set(['timestamp', 'level', 'service', 'message', 'span_id']);

/** One readable line per log record: name, level, message, then the fields that matter. */
function show(label: string, line: LogLine | string): void {
  const name = paint(COLOURS[label], label.padEnd(12));
  if (typeof line === 'string' || raw) {
    process.stdout.write(`${name} ${typeof line === 'string' ? line : JSON.stringify(line)}\n`);
    return;
  }
  const fields = Object.entries(line)
    .filter(([key, value]) => !HIDDEN.has(key) && value !== null && value !== undefined)
    .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
    .join(' ');
  process.stdout.write(
    `${name} ${paint(LEVEL_COLOURS[line.level], line.level.padEnd(5))} ${line.message}  ${paint('2', fields)}\n`,
  );
}

function banner(stack: Stack): string {
  const [a, b] = stack.departures;
  const [ipA, ipB] = stack.replicaAddresses;
  return `
Failway is running (Ctrl-C stops everything).

  Departures board   http://localhost:${DEFAULT_PORTS.gateway}/
  JSON API           http://localhost:${DEFAULT_PORTS.gateway}/api/departures?from=WHP&to=LTN&rows=10
  Gateway admin      http://localhost:${DEFAULT_PORTS.gatewayOps}/admin/upstreams   (ops port: not for the public)
  Gateway metrics    http://localhost:${DEFAULT_PORTS.gatewayOps}/metrics
  route-config       ${stack.routeConfig.url}/routes
  departures A       ${a.url}/departures/WHP?to=LTN   (calls rail-sim from ${ipA ?? 'the default address'})
  departures B       ${b.url}/departures/WHP?to=LTN   (calls rail-sim from ${ipB ?? 'the default address'})
  rail-sim           ${stack.railSim.url}/admin/bans
  Metrics            /metrics on each of the others (the gateway's only on its ops port)

  Admin token        ${adminToken}   (header: Authorization: Bearer ${adminToken}; set ADMIN_TOKEN to choose another)
  Ban durations      ${process.env.BAN_DURATION_S ?? '3600'} s (set BAN_DURATION_S for shorter bans)

  Ban replica A for two minutes and watch the board keep answering:
    curl -X POST -H 'Authorization: Bearer ${adminToken}' -H 'Content-Type: application/json' \\
      -d '{"ip":"${ipA ?? '127.0.0.1'}","seconds":120}' ${stack.railSim.url}/admin/bans
`;
}

// Settings the user may pass on to the services; everything else keeps the services' defaults.
const passThrough = (names: string[]) =>
  Object.fromEntries(
    names.filter((n) => process.env[n] !== undefined).map((n) => [n, process.env[n] as string]),
  );

let stack: Stack | undefined;
let stopping = false;
// Ctrl-C while starting aborts the start-up, which stops whatever had already started.
const startup = new AbortController();
async function stop(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    process.stdout.write('\nStopping all services…\n');
    await stack?.stop();
  }
  process.exit(code);
}
const onSignal = () => {
  if (stack) void stop(0);
  else startup.abort();
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

try {
  stack = await startStack({
    adminToken,
    keepLogs: false,
    onLine: show,
    onNotice: (message) => process.stdout.write(`note: ${message}\n`),
    signal: startup.signal,
    env: passThrough([
      'LOG_LEVEL',
      'OTEL_EXPORTER_OTLP_ENDPOINT',
      'SYSLOG_HOST',
      'SYSLOG_PORT',
      'DEPLOYMENT_ENVIRONMENT',
    ]),
    serviceEnv: {
      'rail-sim': passThrough([
        'BAN_DURATION_S',
        'BAN_THRESHOLD',
        'BAN_WINDOW_S',
        'BAN_STYLE',
        'SIM_SEED',
        'SIM_TIME_OFFSET_MIN',
      ]),
      departures: passThrough([
        'CACHE_TTL_S',
        'STALE_MAX_AGE_S',
        'UPSTREAM_BUDGET_PER_MIN',
        'UPSTREAM_BUDGET_BURST',
        'BAN_PROBE_INTERVAL_S',
        'BAN_MAX_S',
        'REFRESH_AHEAD',
        'REFRESH_AHEAD_SHARE',
        'REFRESH_AHEAD_RECENT_S',
      ]),
      gateway: passThrough(['RATE_LIMIT_PER_MIN', 'NEW_ROUTES_PER_CLIENT_PER_MIN', 'FAILOVER']),
    },
  });
} catch (error) {
  // startStack has already stopped whatever it started.
  if (startup.signal.aborted) {
    process.stdout.write('\nStopped before start-up finished.\n');
    process.exit(0);
  }
  console.error(`Failway could not start: ${(error as Error).message}`);
  process.exit(1);
}
process.stdout.write(banner(stack as Stack));
for (const proc of (stack as Stack).all()) {
  void proc.exited.then((code) => {
    if (!stopping) {
      console.error(`${proc.label} exited unexpectedly (code ${code}); stopping the others.`);
      void stop(1);
    }
  });
}
