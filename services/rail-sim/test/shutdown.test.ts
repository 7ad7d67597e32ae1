import { type ServiceProcess, startService } from '@failway/testkit';
import { Client } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BOARD_PATH } from './support.ts';

// SIGTERM under keep-alive load, the way Kubernetes stops a pod while a proxy keeps its
// connections busy: every request must be answered, every client told `Connection: close`, and
// the process gone well inside its shutdown budget (serve's default, 10 s).
const KEY = 'shutdown-test-key';
const SHUTDOWN_BUDGET_MS = 10_000;
const CLIENTS = 8;
/** Requests answered before SIGTERM is sent: the clients are in full swing. */
const WARM_UP_REQUESTS = CLIENTS * 5;
/** Bound on each client's loop, however the server behaves. */
const MAX_REQUESTS_PER_CLIENT = 20_000;

let sim: ServiceProcess;

beforeAll(async () => {
  sim = await startService('rail-sim', {
    RAIL_API_KEYS: KEY,
    BAN_THRESHOLD: '1000000',
    // Answers take a few ms, so some are always in progress when SIGTERM comes.
    LATENCY_MIN_MS: '5',
    LATENCY_MAX_MS: '30',
  });
});

afterAll(async () => {
  if (sim && sim.child.exitCode === null) await sim.stop();
});

interface ClientResult {
  answered: number;
  /** Errors and non-200 answers. */
  failures: string[];
  /** The client's last answer said `Connection: close`. */
  toldToClose: boolean;
}

/** One keep-alive connection sending board requests back to back until told to close. */
async function hammer(url: string, onAnswer: () => void, stop: AbortSignal): Promise<ClientResult> {
  const client = new Client(url, { keepAliveTimeout: 60_000, headersTimeout: 15_000, bodyTimeout: 15_000 });
  const result: ClientResult = { answered: 0, failures: [], toldToClose: false };
  try {
    for (let i = 0; i < MAX_REQUESTS_PER_CLIENT && !stop.aborted; i++) {
      try {
        const res = await client.request({
          method: 'GET',
          path: `${BOARD_PATH}/WHP?numRows=3`,
          headers: { 'x-apikey': KEY },
        });
        await res.body.text();
        if (res.statusCode !== 200) result.failures.push(`status ${res.statusCode}`);
        result.answered++;
        onAnswer();
        if (res.headers.connection === 'close') {
          result.toldToClose = true;
          break;
        }
      } catch (error) {
        result.failures.push(`${(error as Error).name}: ${(error as Error).message}`);
        break;
      }
    }
  } finally {
    await client.destroy();
  }
  return result;
}

describe('graceful shutdown under keep-alive load', () => {
  it('when SIGTERM comes while keep-alive clients hammer the service, then every request is answered, each client is told to close, and it exits 0 inside the budget', async () => {
    let answered = 0;
    let warm: () => void = () => undefined;
    const warmedUp = new Promise<void>((resolve) => {
      warm = resolve;
    });
    // Stops the clients only if the test itself fails before the service is gone.
    const stop = new AbortController();
    const clients = Array.from({ length: CLIENTS }, () =>
      hammer(
        sim.url,
        () => {
          if (++answered === WARM_UP_REQUESTS) warm();
        },
        stop.signal,
      ),
    );
    try {
      await warmedUp;
      const signalledAt = performance.now();
      sim.child.kill('SIGTERM');
      const code = await sim.exited;
      const exitMs = performance.now() - signalledAt;
      const results = await Promise.all(clients);

      expect(results.flatMap((r) => r.failures)).toEqual([]);
      expect(results.map((r) => r.toldToClose)).toEqual(Array(CLIENTS).fill(true));
      expect(code).toBe(0);
      expect(exitMs).toBeLessThan(SHUTDOWN_BUDGET_MS);
      const messages = sim.logs.map((line) => line.message);
      expect(messages).toContain('stopped');
      expect(messages).not.toContain('connections still open at the drain deadline were closed');
    } finally {
      stop.abort();
      await Promise.allSettled(clients);
    }
  });
});
