import { createHash } from 'node:crypto';
import { boardUnavailableProblemSchema, departuresAnswerSchema } from '@failway/contract';
import {
  createHttpClient,
  type HttpClient,
  keepAliveAgent,
  type Logger,
  type ServiceMetrics,
  sendRequest,
} from '@failway/telemetry';
import { LRUCache } from 'lru-cache';
import CircuitBreaker from 'opossum';
import { Counter, Gauge } from 'prom-client';
import type { BoardQuery, Replica, ReplicaPool, ReplicaResult } from '../domain/replicas.ts';
import type { MemberAddress } from './member-names.ts';

export type MemberState = 'ready' | 'banned' | 'ejected' | 'down';
export const MEMBER_STATES: readonly MemberState[] = ['ready', 'banned', 'ejected', 'down'];
const CIRCUIT_VALUE = { closed: 0, 'half-open': 1, open: 2 } as const;

type Readiness =
  | { kind: 'unknown' }
  | { kind: 'ready' }
  | { kind: 'banned'; until: number | undefined }
  | { kind: 'down'; reason: string };

type Failed = Extract<ReplicaResult, { kind: 'failed' }>;
type Answer = Extract<ReplicaResult, { kind: 'answer' }>['answer'];

/** Answers kept per member for conditional requests: one per board URL asked recently. */
const KEPT_ANSWERS_PER_MEMBER = 256;

class ReplicaFailure extends Error {
  readonly result: Failed;
  constructor(result: Failed) {
    super(result.reason);
    this.result = result;
  }
}

/**
 * `timeout`, the error's code (ECONNREFUSED, …) or `fallback`. A DOMException's code is a number
 * (23 for a TimeoutError), never a label.
 */
function failureReason(error: unknown, fallback: string): string {
  const e = error as { name?: unknown; code?: unknown };
  if (e.name === 'TimeoutError' || (typeof e.code === 'string' && e.code.includes('TIMEOUT')))
    return 'timeout';
  return typeof e.code === 'string' && e.code !== '' ? e.code : fallback;
}

/**
 * Rendezvous (highest-random-weight) score of a member for a route: the first 64 bits of
 * SHA-256(route key, NUL, member identity), read big-endian. SHA-256 (node:crypto) because it is
 * stable across Node versions, processes and machines (every gateway replica ranks alike),
 * spreads any input uniformly, and costs about a microsecond per member.
 */
export function affinityScore(routeKey: string, member: string): bigint {
  return createHash('sha256').update(routeKey).update('\0').update(member).digest().readBigUInt64BE(0);
}

/**
 * `members` ordered for `routeKey`, best first, by rendezvous hashing of their identities: each
 * route has one owner, the next-ranked is its fallback, and a member joining or leaving moves
 * only the routes it gains or had (about 1/N of them), never routes between the others.
 */
export function rankByAffinity<T>(routeKey: string, members: readonly T[], identity: (m: T) => string): T[] {
  return members
    .map((member) => ({ member, id: identity(member), score: affinityScore(routeKey, identity(member)) }))
    .sort((a, b) => (a.score === b.score ? (a.id < b.id ? -1 : 1) : a.score > b.score ? -1 : 1))
    .map((ranked) => ranked.member);
}

/**
 * One departures replica: its readiness (active checks), ejection (passive) and circuit breaker.
 * Known by an opaque `name` (what boards, logs and metric labels show) and reached at `url`
 * (what affinity hashes, and only the ops port's admin view shows).
 */
export class Member implements Replica {
  readonly name: string;
  readonly url: string;
  /** The `reason` labels of this member's ejection series, removed with it when it leaves. */
  readonly ejectionReasons = new Set<string>();
  readonly client: HttpClient;
  readonly breaker: CircuitBreaker<[string], ReplicaResult>;
  readiness: Readiness = { kind: 'unknown' };
  ejectedUntil = 0;
  /**
   * The last answer this member sent for each board URL, with its entity tag: the next request
   * for that URL carries the tag, and a 304 means that answer (at the age the Age header gives).
   */
  readonly kept = new LRUCache<string, { etag: string; answer: Answer }>({ max: KEPT_ANSWERS_PER_MEMBER });
  lastCheckedAt: number | null = null;
  lastError: string | null = null;

  constructor(
    address: MemberAddress,
    client: HttpClient,
    breaker: (member: Member) => CircuitBreaker<[string], ReplicaResult>,
  ) {
    this.url = address.url;
    this.name = address.name;
    this.client = client;
    this.breaker = breaker(this);
  }

  circuit(): 'closed' | 'open' | 'half-open' {
    return this.breaker.halfOpen ? 'half-open' : this.breaker.opened ? 'open' : 'closed';
  }

  state(now: number): MemberState {
    if (this.readiness.kind === 'banned') return 'banned';
    if (this.readiness.kind === 'down') return 'down';
    if (this.ejectedUntil > now || this.breaker.opened) return 'ejected';
    return 'ready';
  }
}

/** How the pool reaches its members: board requests and `/readyz` checks. */
export interface PoolTransport {
  /** The HTTP client of one member's board requests (closed when the member leaves). */
  boardClient(url: string): HttpClient;
  /** One `GET /readyz` of the member at `url`; throws when it cannot be reached in time. */
  readyz(url: string): Promise<{ status: number; body: string }>;
  close(): Promise<void>;
}

/**
 * Largest board answer read from a replica (a board is a few kB; 1 MiB bounds what a broken
 * replica can make the gateway buffer). Over it the call fails as `too_large`.
 */
export const REPLICA_MAX_RESPONSE_BYTES = 1024 * 1024;

export interface HttpTransportOptions {
  metrics: ServiceMetrics;
  /** Deadline of one board request to a replica. */
  timeoutMs: number;
  /** Deadline for a TCP connection to a replica (board requests and checks). */
  connectTimeoutMs: number;
  /** Deadline of one `/readyz` check. */
  readyzTimeoutMs: number;
}

/** The transport over HTTP: the telemetry client for boards, a keep-alive agent for checks. */
export function httpTransport(options: HttpTransportOptions): PoolTransport {
  const checkAgent = { idleMs: 10_000, connections: 4 };
  const checkAgents = {
    http: keepAliveAgent('http:', checkAgent),
    https: keepAliveAgent('https:', checkAgent),
  };
  return {
    boardClient: (url) =>
      createHttpClient({
        peerService: 'departures',
        baseUrl: url,
        metrics: options.metrics,
        timeoutMs: options.timeoutMs,
        connectTimeoutMs: options.connectTimeoutMs,
        maxResponseBytes: REPLICA_MAX_RESPONSE_BYTES,
      }),
    async readyz(url) {
      const target = new URL('/readyz', url).href;
      const res = await sendRequest(target, {
        agent: target.startsWith('https:') ? checkAgents.https : checkAgents.http,
        peer: 'departures',
        timeoutMs: options.readyzTimeoutMs,
        connectTimeoutMs: options.connectTimeoutMs,
        maxResponseBytes: REPLICA_MAX_RESPONSE_BYTES,
      });
      return { status: res.status, body: res.body };
    },
    close: async () => {
      checkAgents.http.destroy();
      checkAgents.https.destroy();
    },
  };
}

/** The circuit breaker of each member (opossum). */
export interface BreakerOptions {
  /** Failures (percent of calls in the window) that open the circuit. */
  errorThresholdPercentage: number;
  /** Calls in the window before the circuit may open at all. */
  volumeThreshold: number;
  /** How long an open circuit waits before one trial call (half-open). */
  resetTimeoutMs: number;
  /** The rolling window failures are counted over. */
  rollingWindowMs: number;
}

/**
 * opossum's options for a member's circuit: counts only. By default opossum also keeps latency
 * percentiles, and works them out by copying and sorting every call's latency in the window, once
 * a second on a timer and again on every failed call (to decide whether to open): at the gateway's
 * throughput that is tens of thousands of numbers, a main-thread stall each second, and a few
 * milliseconds per failure, so a replica failing a small share of calls, too few to open the
 * circuit, would eat the gateway's CPU (`npm run bench` measures both; docs/performance.md).
 * Nothing here reads the percentiles or the snapshots: the latencies are in the HTTP client's
 * histogram.
 */
export function breakerOptions(options: BreakerOptions): CircuitBreaker.Options {
  return {
    timeout: false, // the HTTP client has its own deadline
    errorThresholdPercentage: options.errorThresholdPercentage,
    volumeThreshold: options.volumeThreshold,
    resetTimeout: options.resetTimeoutMs,
    rollingCountTimeout: options.rollingWindowMs,
    rollingPercentilesEnabled: false,
    enableSnapshots: false,
  };
}

export interface PoolOptions {
  /** The replicas at start (none when DNS discovery fills the pool). */
  members: readonly MemberAddress[];
  metrics: ServiceMetrics;
  logger: Logger;
  transport: PoolTransport;
  breaker: BreakerOptions;
  checkIntervalMs: number;
  /** How long a replica that failed a request is left out. */
  ejectSeconds: number;
  /** Off: plain round robin over every member, whatever its state. */
  failover: boolean;
  clock?: () => number;
}

/**
 * The departures replicas behind the gateway: route affinity (each route has an owner by
 * rendezvous hashing, so one replica's cache and upstream budget serve it), active `/readyz`
 * checks (a banned replica says so there), passive ejection when a request to one fails, and an
 * opossum circuit breaker per replica. A replica out of upstream budget or banned is not failing:
 * no ejection, no breaker failure.
 */
export class DeparturesPool implements ReplicaPool<Member> {
  readonly #options: PoolOptions;
  readonly #clock: () => number;
  readonly #ejections: Counter<'member' | 'reason'>;
  #members: Member[] = [];
  /** Each route's ranking of the current members (rankings change only when members do). */
  readonly #rankings = new LRUCache<string, Member[]>({ max: 10_000 });
  #next = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: PoolOptions) {
    this.#options = options;
    this.#clock = options.clock ?? Date.now;
    const registers = [options.metrics.registry];
    const members: Gauge<'state'> = new Gauge({
      name: 'gateway_pool_members',
      help: 'Departures replicas by state: ready, banned (by the upstream), ejected (failing or circuit open), down.',
      labelNames: ['state'],
      registers,
      collect: () => {
        const now = this.#clock();
        for (const state of MEMBER_STATES)
          members.set({ state }, this.#members.filter((m) => m.state(now) === state).length);
      },
    });
    const circuit: Gauge<'member'> = new Gauge({
      name: 'gateway_circuit_state',
      help: 'Circuit breaker per departures replica: 0 closed, 1 half-open, 2 open.',
      labelNames: ['member'],
      registers,
      collect: () => {
        circuit.reset();
        for (const m of this.#members) circuit.set({ member: m.name }, CIRCUIT_VALUE[m.circuit()]);
      },
    });
    this.#ejections = new Counter({
      name: 'gateway_member_ejections_total',
      help: 'Departures replicas left out after a failed request, by reason.',
      labelNames: ['member', 'reason'],
      registers,
    });
    this.sync(options.members);
  }

  get members(): readonly Member[] {
    return this.#members;
  }

  /**
   * Adds and removes members to match `members` (static config, or a headless Service's DNS). A
   * member is the same member while its URL and name are; one that leaves takes its metric series
   * with it, so a pool whose pods come and go does not grow a series per pod it ever had.
   */
  sync(members: readonly MemberAddress[]): void {
    const same = (m: Member, a: MemberAddress) => m.url === a.url && m.name === a.name;
    const keep = this.#members.filter((m) => members.some((a) => same(m, a)));
    for (const gone of this.#members.filter((m) => !keep.includes(m))) {
      gone.breaker.shutdown();
      void gone.client.close();
      for (const reason of gone.ejectionReasons) this.#ejections.remove({ member: gone.name, reason });
      this.#options.logger.info('departures replica removed from the pool', {
        member: gone.name,
        url: gone.url,
      });
    }
    for (const address of members.filter((a) => !keep.some((m) => same(m, a)))) {
      keep.push(this.#member(address));
      this.#options.logger.info('departures replica added to the pool', {
        member: address.name,
        url: address.url,
      });
    }
    this.#members = keep;
    this.#rankings.clear();
  }

  #member(address: MemberAddress): Member {
    const { breaker: options, logger } = this.#options;
    return new Member(address, this.#options.transport.boardClient(address.url), (member) => {
      const breaker = new CircuitBreaker<[string], ReplicaResult>(
        (path: string) => this.#call(member, path),
        breakerOptions(options),
      );
      breaker.on('open', () =>
        logger.warn('circuit opened for a departures replica', { member: member.name }),
      );
      breaker.on('halfOpen', () =>
        logger.info('circuit half-open for a departures replica', { member: member.name }),
      );
      breaker.on('close', () =>
        logger.info('circuit closed for a departures replica', { member: member.name }),
      );
      return breaker;
    });
  }

  /**
   * One board request. Resolves with what the replica said (an answer, a rejection, or that it is
   * banned or out of budget: the replica works); throws a ReplicaFailure when the replica itself
   * failed, which is what the circuit breaker counts.
   */
  async #call(member: Member, path: string): Promise<ReplicaResult> {
    let res: Awaited<ReturnType<HttpClient['request']>>;
    const kept = member.kept.get(path);
    try {
      res = await member.client.request(path, {
        headers: kept
          ? { accept: 'application/json', 'if-none-match': kept.etag }
          : { accept: 'application/json' },
      });
    } catch (error) {
      throw new ReplicaFailure({ kind: 'failed', reason: failureReason(error, 'connection_error') });
    }
    if (res.status === 304 && kept) {
      const age = Number(res.headers.age);
      const ageSeconds = Number.isInteger(age) && age >= 0 ? age : kept.answer.ageSeconds;
      return { kind: 'answer', answer: { ...kept.answer, ageSeconds } };
    }
    let body: unknown;
    try {
      body = JSON.parse(res.body);
    } catch {
      body = res.body;
    }
    if (res.status === 200) {
      const answer = departuresAnswerSchema.safeParse(body);
      if (answer.success) {
        const etag = res.headers.etag;
        if (typeof etag === 'string') member.kept.set(path, { etag, answer: answer.data });
        else member.kept.delete(path);
        return { kind: 'answer', answer: answer.data };
      }
      this.#options.logger.warn('a departures replica answered 200 with something that is not a board', {
        member: member.name,
        problems: answer.error.issues
          .slice(0, 5)
          .map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`)
          .join('; '),
      });
      throw new ReplicaFailure({ kind: 'failed', reason: 'invalid_answer' });
    }
    if (res.status >= 400 && res.status < 500) return { kind: 'rejected', status: res.status, body };
    const problem = res.status === 503 ? boardUnavailableProblemSchema.safeParse(body) : undefined;
    if (problem?.success) {
      const { reason, retry_after_seconds, banned_until } = problem.data;
      if (reason === 'banned' || reason === 'budget_exhausted') {
        return {
          kind: 'unavailable',
          reason,
          retryAfterSeconds: retry_after_seconds,
          bannedUntil: banned_until ? Date.parse(banned_until) : undefined,
        };
      }
      throw new ReplicaFailure({ kind: 'failed', reason, retryAfterSeconds: retry_after_seconds });
    }
    throw new ReplicaFailure({ kind: 'failed', reason: `status_${res.status}` });
  }

  /** The members eligible now for `routeKey`, or all in round robin order with failover off. */
  pick(routeKey: string, exclude: ReadonlySet<Member>): Member | undefined {
    if (!this.#options.failover) {
      const candidates = this.#members.filter((m) => !exclude.has(m));
      if (candidates.length === 0) return undefined;
      this.#next = (this.#next + 1) % candidates.length;
      return candidates[this.#next];
    }
    const now = this.#clock();
    return this.rank(routeKey).find((m) => !exclude.has(m) && m.state(now) === 'ready');
  }

  /**
   * Every member, best-ranked first for `routeKey`: rendezvous hashing of the member URLs, not of
   * their names, so naming or renaming replicas moves no route (a route follows the replica's
   * cache and upstream budget, which live at its address).
   */
  rank(routeKey: string): Member[] {
    let ranking = this.#rankings.get(routeKey);
    if (!ranking) {
      ranking = rankByAffinity(routeKey, this.#members, (m) => m.url);
      this.#rankings.set(routeKey, ranking);
    }
    return ranking;
  }

  owner(routeKey: string): Member | undefined {
    return this.rank(routeKey)[0];
  }

  unavailableBecause(member: Member): 'banned' | 'ejected' | 'down' | undefined {
    const state = member.state(this.#clock());
    return state === 'ready' ? undefined : state;
  }

  size(): number {
    return this.#members.length;
  }

  async ask(member: Member, query: BoardQuery): Promise<ReplicaResult> {
    const path = `/departures/${query.from}?to=${query.to}&rows=${query.rows}`;
    let result: ReplicaResult;
    try {
      result = await member.breaker.fire(path);
    } catch (error) {
      const failed: Failed =
        error instanceof ReplicaFailure
          ? error.result
          : { kind: 'failed', reason: member.breaker.opened ? 'circuit_open' : 'error' };
      if (failed.reason !== 'circuit_open') this.#eject(member, failed.reason);
      member.lastError = failed.reason;
      return failed;
    }
    if (result.kind === 'unavailable') {
      if (result.reason === 'banned') this.markBanned(member, result.bannedUntil);
      member.lastError = result.reason;
    }
    return result;
  }

  #eject(member: Member, reason: string): void {
    member.ejectedUntil = this.#clock() + this.#options.ejectSeconds * 1000;
    this.#ejections.inc({ member: member.name, reason });
    member.ejectionReasons.add(reason);
    this.#options.logger.warn('departures replica ejected after a failed request', {
      member: member.name,
      reason,
      ejected_until: new Date(member.ejectedUntil).toISOString(),
    });
  }

  markBanned(member: Member, until: number | undefined): void {
    if (member.readiness.kind !== 'banned') {
      this.#options.logger.warn('departures replica is banned by the upstream; routing around it', {
        member: member.name,
        banned_until: until ? new Date(until).toISOString() : null,
      });
    }
    const known = member.readiness.kind === 'banned' ? member.readiness.until : undefined;
    member.readiness = { kind: 'banned', until: until ?? known };
  }

  earliestBanEnd(): number | undefined {
    const now = this.#clock();
    if (this.#members.length === 0 || this.#members.some((m) => m.state(now) !== 'banned')) return undefined;
    const ends = this.#members.map((m) => (m.readiness.kind === 'banned' ? m.readiness.until : undefined));
    return ends.every((e) => e !== undefined) ? Math.min(...(ends as number[])) : undefined;
  }

  /** One round of `/readyz` checks. */
  async checkAll(): Promise<void> {
    await Promise.all(this.#members.map((m) => this.#check(m)));
  }

  async #check(member: Member): Promise<void> {
    const previous = member.state(this.#clock());
    try {
      const res = await this.#options.transport.readyz(member.url);
      let body: { status?: unknown; until?: unknown } = {};
      try {
        body = JSON.parse(res.body) as typeof body;
      } catch {
        // not JSON: only the status code counts
      }
      if (res.status === 200) {
        member.readiness = { kind: 'ready' };
      } else if (body.status === 'banned') {
        const until = typeof body.until === 'string' ? Date.parse(body.until) : Number.NaN;
        member.readiness = { kind: 'banned', until: Number.isNaN(until) ? undefined : until };
      } else {
        member.readiness = {
          kind: 'down',
          reason: typeof body.status === 'string' ? body.status : `status_${res.status}`,
        };
      }
    } catch (error) {
      member.readiness = { kind: 'down', reason: failureReason(error, 'unreachable') };
    }
    member.lastCheckedAt = this.#clock();
    const now = member.state(this.#clock());
    if (now !== previous) {
      this.#options.logger.info('departures replica changed state', {
        member: member.name,
        from: previous,
        to: now,
      });
    }
  }

  start(): void {
    void this.checkAll();
    this.#timer = setInterval(() => void this.checkAll(), this.#options.checkIntervalMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    for (const m of this.#members) {
      m.breaker.shutdown();
      await m.client.close();
    }
    await this.#options.transport.close();
  }

  views(): object[] {
    const now = this.#clock();
    return this.#members.map((m) => ({
      name: m.name,
      url: m.url,
      state: m.state(now),
      ready: m.readiness.kind === 'ready',
      bannedUntil:
        m.readiness.kind === 'banned' && m.readiness.until ? new Date(m.readiness.until).toISOString() : null,
      ejectedUntil: m.ejectedUntil > now ? new Date(m.ejectedUntil).toISOString() : null,
      circuit: m.circuit(),
      lastCheckedAt: m.lastCheckedAt ? new Date(m.lastCheckedAt).toISOString() : null,
      lastError: m.lastError,
    }));
  }
}
