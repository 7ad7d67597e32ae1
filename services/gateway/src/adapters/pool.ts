import { createHttpClient, type HttpClient, type Logger, type ServiceMetrics } from '@failway/telemetry';
import CircuitBreaker from 'opossum';
import { Counter, Gauge } from 'prom-client';
import { Agent, request } from 'undici';
import type { BoardQuery, Replica, ReplicaPool, ReplicaResult } from '../domain/replicas.ts';

export type MemberState = 'ready' | 'banned' | 'ejected' | 'down';
export const MEMBER_STATES: readonly MemberState[] = ['ready', 'banned', 'ejected', 'down'];
const CIRCUIT_VALUE = { closed: 0, 'half-open': 1, open: 2 } as const;

type Readiness =
  | { kind: 'unknown' }
  | { kind: 'ready' }
  | { kind: 'banned'; until: number | undefined }
  | { kind: 'down'; reason: string };

class ReplicaFailure extends Error {
  readonly result: Extract<ReplicaResult, { kind: 'failed' }>;
  constructor(result: Extract<ReplicaResult, { kind: 'failed' }>) {
    super(result.reason);
    this.result = result;
  }
}

/** One departures replica: its readiness (active checks), ejection (passive) and circuit breaker. */
export class Member implements Replica {
  readonly name: string;
  readonly url: string;
  readonly client: HttpClient;
  readonly breaker: CircuitBreaker<[string], ReplicaResult>;
  readiness: Readiness = { kind: 'unknown' };
  ejectedUntil = 0;
  lastCheckedAt: number | null = null;
  lastError: string | null = null;

  constructor(
    url: string,
    client: HttpClient,
    breaker: (member: Member) => CircuitBreaker<[string], ReplicaResult>,
  ) {
    this.url = url;
    this.name = new URL(url).host;
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

export interface PoolOptions {
  urls: readonly string[];
  metrics: ServiceMetrics;
  logger: Logger;
  /** Deadline of one board request to a replica. */
  timeoutMs: number;
  checkIntervalMs: number;
  /** How long a replica that failed a request is left out. */
  ejectSeconds: number;
  /** Off: plain round robin over every member, whatever its state. */
  failover: boolean;
  clock?: () => number;
}

/**
 * The departures replicas behind the gateway: active `/readyz` checks (a banned replica says so
 * there), passive ejection when a request to one fails, and an opossum circuit breaker per replica.
 */
export class DeparturesPool implements ReplicaPool<Member> {
  readonly #options: PoolOptions;
  readonly #clock: () => number;
  readonly #checkAgent = new Agent({ connect: { timeout: 1_000 }, keepAliveTimeout: 10_000 });
  readonly #ejections: Counter<'member' | 'reason'>;
  #members: Member[] = [];
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
    this.sync(options.urls);
  }

  get members(): readonly Member[] {
    return this.#members;
  }

  /** Adds and removes members to match `urls` (static config, or a headless Service's DNS). */
  sync(urls: readonly string[]): void {
    const keep = this.#members.filter((m) => urls.includes(m.url));
    for (const gone of this.#members.filter((m) => !urls.includes(m.url))) {
      gone.breaker.shutdown();
      void gone.client.close();
      this.#options.logger.info('departures replica removed from the pool', { member: gone.name });
    }
    for (const url of urls.filter((u) => !keep.some((m) => m.url === u))) {
      keep.push(this.#member(url));
      this.#options.logger.info('departures replica added to the pool', { member: new URL(url).host });
    }
    this.#members = keep;
  }

  #member(url: string): Member {
    const client = createHttpClient({
      peerService: 'departures',
      baseUrl: url,
      metrics: this.#options.metrics,
      timeoutMs: this.#options.timeoutMs,
    });
    return new Member(url, client, (member) => {
      const breaker = new CircuitBreaker<[string], ReplicaResult>(
        (path: string) => this.#call(member, path),
        {
          timeout: false, // the HTTP client has its own deadline
          errorThresholdPercentage: 50,
          volumeThreshold: 4,
          resetTimeout: 5_000,
          rollingCountTimeout: 10_000,
        },
      );
      breaker.on('open', () =>
        this.#options.logger.warn('circuit opened for a departures replica', { member: member.name }),
      );
      breaker.on('halfOpen', () =>
        this.#options.logger.info('circuit half-open for a departures replica', { member: member.name }),
      );
      breaker.on('close', () =>
        this.#options.logger.info('circuit closed for a departures replica', { member: member.name }),
      );
      return breaker;
    });
  }

  async #call(member: Member, path: string): Promise<ReplicaResult> {
    let res: Awaited<ReturnType<HttpClient['request']>>;
    try {
      res = await member.client.request(path);
    } catch (error) {
      const e = error as { name?: string; code?: string; message?: string };
      const reason =
        e.name === 'TimeoutError' || e.code?.includes('TIMEOUT') ? 'timeout' : (e.code ?? 'connection_error');
      throw new ReplicaFailure({ kind: 'failed', reason });
    }
    let body: unknown;
    try {
      body = JSON.parse(res.body);
    } catch {
      body = res.body;
    }
    if (res.status === 200)
      return { kind: 'answer', answer: body as Extract<ReplicaResult, { kind: 'answer' }>['answer'] };
    if (res.status >= 400 && res.status < 500) return { kind: 'rejected', status: res.status, body };
    const problem = body as { reason?: string; banned_until?: string | null; retry_after_seconds?: number };
    throw new ReplicaFailure({
      kind: 'failed',
      reason: res.status === 503 && problem.reason ? problem.reason : `status_${res.status}`,
      bannedUntil: problem.banned_until ? Date.parse(problem.banned_until) : undefined,
      retryAfterSeconds: problem.retry_after_seconds,
    });
  }

  pick(exclude: ReadonlySet<Member>): Member | undefined {
    const now = this.#clock();
    const candidates = this.#members.filter(
      (m) => !exclude.has(m) && (!this.#options.failover || m.state(now) === 'ready'),
    );
    if (candidates.length === 0) return undefined;
    this.#next = (this.#next + 1) % candidates.length;
    return candidates[this.#next];
  }

  async ask(member: Member, query: BoardQuery): Promise<ReplicaResult> {
    const path = `/departures/${query.from}?to=${query.to}&rows=${query.rows}`;
    try {
      return await member.breaker.fire(path);
    } catch (error) {
      const result: Extract<ReplicaResult, { kind: 'failed' }> =
        error instanceof ReplicaFailure
          ? error.result
          : { kind: 'failed', reason: member.breaker.opened ? 'circuit_open' : 'error' };
      if (result.reason === 'banned') this.markBanned(member, result.bannedUntil);
      else if (result.reason !== 'circuit_open') this.#eject(member, result.reason);
      member.lastError = result.reason;
      return result;
    }
  }

  #eject(member: Member, reason: string): void {
    member.ejectedUntil = this.#clock() + this.#options.ejectSeconds * 1000;
    this.#ejections.inc({ member: member.name, reason });
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
    member.readiness = { kind: 'banned', until };
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
      const res = await request(new URL('/readyz', member.url), {
        dispatcher: this.#checkAgent,
        signal: AbortSignal.timeout(1_000),
      });
      const body = (await res.body.json().catch(() => ({}))) as { status?: string; until?: string };
      if (res.statusCode === 200) {
        member.readiness = { kind: 'ready' };
      } else if (body.status === 'banned') {
        member.readiness = { kind: 'banned', until: body.until ? Date.parse(body.until) : undefined };
      } else {
        member.readiness = { kind: 'down', reason: body.status ?? `status_${res.statusCode}` };
      }
    } catch (error) {
      member.readiness = { kind: 'down', reason: (error as { code?: string }).code ?? 'unreachable' };
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
    await this.#checkAgent.close();
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
