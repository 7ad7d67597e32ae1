import { Agent, request } from 'undici';

/** Path of the board endpoint, as the Rail Data Marketplace serves it. */
export const BOARD_PATH = '/LDBWS/api/20220120/GetDepBoardWithDetails';

/** Every wait on the simulator is bounded by this. */
const REQUEST_TIMEOUT_MS = 10_000;

export interface Answer {
  status: number;
  headers: Record<string, string | undefined>;
  text: string;
  /** Wall time from sending the request to the end of the body. */
  ms: number;
}

export interface CallOptions {
  method?: 'GET' | 'POST' | 'DELETE';
  headers?: Record<string, string>;
  body?: string;
  /** Loopback source address of the call (each IP has its own limit at the simulator). */
  ip?: string;
}

const agents = new Map<string, Agent>();

function agentFor(ip: string): Agent {
  let agent = agents.get(ip);
  if (!agent) {
    agent = new Agent({
      localAddress: ip,
      connectTimeout: REQUEST_TIMEOUT_MS,
      headersTimeout: REQUEST_TIMEOUT_MS,
      bodyTimeout: REQUEST_TIMEOUT_MS,
    });
    agents.set(ip, agent);
  }
  return agent;
}

/** Closes the per-IP agents (afterAll). */
export async function closeAgents(): Promise<void> {
  const all = [...agents.values()];
  agents.clear();
  await Promise.all(all.map((a) => a.close()));
}

/** One HTTP call from a chosen loopback source IP; the body is always read. */
export async function call(url: string, options: CallOptions = {}): Promise<Answer> {
  const started = performance.now();
  const res = await request(url, {
    method: options.method ?? 'GET',
    headers: options.headers ?? {},
    ...(options.body === undefined ? {} : { body: options.body }),
    dispatcher: agentFor(options.ip ?? '127.0.0.1'),
  });
  const text = await res.body.text();
  const headers: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(res.headers)) {
    headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return { status: res.statusCode, headers, text, ms: performance.now() - started };
}

/** The body parsed as JSON. */
export function json<T = Record<string, unknown>>(answer: Answer): T {
  return JSON.parse(answer.text) as T;
}

/**
 * The value of one Prometheus sample whose labels include all of `labels`
 * (every rail-sim series also carries service="rail-sim"); undefined when there is none.
 */
export function sample(
  exposition: string,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  for (const line of exposition.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)/.exec(line);
    if (!match || match[1] !== name) continue;
    const found = new Map<string, string>();
    for (const pair of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      found.set(pair[1] ?? '', pair[2] ?? '');
    }
    if (Object.entries(labels).every(([k, v]) => found.get(k) === v)) return Number(match[3]);
  }
  return undefined;
}

/** A train service of an LDBWS board, as far as the tests look at it. */
export interface BoardService {
  std: string;
  etd: string;
  platform: string | null;
  operator: string;
  operatorCode: string;
  serviceID: string;
  isCancelled: boolean;
  destination: { locationName: string; crs: string }[];
  origin: { locationName: string; crs: string }[];
  subsequentCallingPoints: { callingPoint: { crs: string; st: string }[] }[];
}

/** An LDBWS station board, as far as the tests look at it. */
export interface Board {
  generatedAt: string;
  locationName: string;
  crs: string;
  filterLocationName: string | null;
  filtercrs: string | null;
  filterType: number;
  trainServices: BoardService[] | null;
  busServices: null;
  ferryServices: null;
  nrccMessages: { value: string }[] | null;
}

/** The time of day `hh:mm`. */
export const HHMM = /^([01]\d|2[0-3]):[0-5]\d$/;
