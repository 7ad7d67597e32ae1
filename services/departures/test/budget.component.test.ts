import { metricValue, type ServiceProcess, simOffsetToLondonHour, startService } from '@failway/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// rail-sim bans an IP after 5 calls a minute here; the routes below are all different, so every
// request is a cache miss that needs the upstream.
const ROUTES = [
  'WHP?to=LTN',
  'WHP?to=SAC',
  'WHP?to=BDM',
  'SAC?to=LTN',
  'SAC?to=BDM',
  'HPD?to=BDM',
  'LTN?to=BDM',
  'LUT?to=BDM',
];

let railSim: ServiceProcess;
const replicas: ServiceProcess[] = [];

async function replica(localAddress: string, burst: number): Promise<ServiceProcess> {
  const proc = await startService('departures', {
    UPSTREAM_URL: railSim.url,
    UPSTREAM_API_KEY: 'budget-key',
    UPSTREAM_LOCAL_ADDRESS: localAddress,
    UPSTREAM_BUDGET_BURST: String(burst),
    UPSTREAM_BUDGET_PER_MIN: '1',
  });
  replicas.push(proc);
  return proc;
}

async function ask(proc: ServiceProcess): Promise<number[]> {
  const statuses: number[] = [];
  for (const route of ROUTES) statuses.push((await fetch(`${proc.url}/departures/${route}`)).status);
  return statuses;
}

beforeAll(async () => {
  railSim = await startService('rail-sim', {
    RAIL_API_KEYS: 'budget-key',
    BAN_THRESHOLD: '5',
    BAN_WINDOW_S: '60',
    LATENCY_MIN_MS: '0',
    LATENCY_MAX_MS: '5',
    SIM_TIME_OFFSET_MIN: String(simOffsetToLondonHour(8)),
  });
});

afterAll(async () => {
  await Promise.all(replicas.map((r) => r.stop()));
  await railSim?.stop();
});

describe('upstream call budget', () => {
  it('when the budget is under the upstream limit, then the replica is never banned and says 503 budget-exhausted instead', async () => {
    const departures = await replica('127.0.0.5', 5);
    const statuses = await ask(departures);
    expect(statuses.slice(0, 5)).toEqual([200, 200, 200, 200, 200]);
    expect(statuses.slice(5)).toEqual([503, 503, 503]);
    const problem = await fetch(`${departures.url}/departures/${ROUTES[7]}`);
    expect(problem.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(await problem.json()).toMatchObject({ reason: 'budget_exhausted' });
    const own = await (await fetch(`${departures.url}/metrics`)).text();
    expect(metricValue(own, 'departures_upstream_budget_exhausted_total')).toBeGreaterThanOrEqual(3);
    expect(metricValue(own, 'departures_upstream_bans_total', { style: 'http-429' }) ?? 0).toBe(0);
    expect((await fetch(`${departures.url}/readyz`)).status).toBe(200);
    const sim = await (await fetch(`${railSim.url}/metrics`)).text();
    expect(metricValue(sim, 'railsim_bans_total', { reason: 'limit' })).toBe(0);
  });

  it('when the budget is above the upstream limit (control), then the upstream bans the replica and it notices', async () => {
    const departures = await replica('127.0.0.6', 50);
    const statuses = await ask(departures);
    expect(statuses.slice(0, 5)).toEqual([200, 200, 200, 200, 200]);
    expect(statuses[5]).toBe(503);
    const sim = await (await fetch(`${railSim.url}/metrics`)).text();
    expect(metricValue(sim, 'railsim_bans_total', { reason: 'limit' })).toBe(1);
    const own = await (await fetch(`${departures.url}/metrics`)).text();
    expect(metricValue(own, 'departures_upstream_bans_total', { style: 'http-429' })).toBe(1);
    expect(metricValue(own, 'departures_upstream_banned')).toBe(1);
    const ready = await fetch(`${departures.url}/readyz`);
    expect(ready.status).toBe(503);
    // The ban lasts rail-sim's default 3600 s and the replica learned it from Retry-After.
    const until = Date.parse(((await ready.json()) as { until: string }).until);
    expect(until - Date.now()).toBeGreaterThan(3_500_000);
  });
});
