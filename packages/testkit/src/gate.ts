import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** An upstream call the gate holds: where it came from, what it asks, and how to let it through. */
export interface HeldCall {
  /** The address the caller connected from (a departures replica's egress address). */
  from: string | undefined;
  /** The path asked for (which station's board). */
  path: string;
  forward(): void;
  /** Whether the caller is still connected. */
  alive(): boolean;
}

/**
 * A pass-through proxy between departures and rail-sim that can hold upstream calls until the
 * test lets them go, so a test can act while a call is in flight (kill the replica that made it,
 * let callers pile up behind it) however fast or slow the machine is. Each call leaves from the
 * address its caller connected from, so rail-sim still tells replicas apart (and bans them) by
 * source IP.
 */
export interface UpstreamGate {
  url: string;
  /** rail-sim's base URL; may be set after the gate starts (the stack starts rail-sim later). */
  target: string | undefined;
  /** The calls waiting while the gate holds, oldest first. */
  readonly held: readonly HeldCall[];
  hold(): void;
  /** Lets the held calls through (those whose caller has gone are dropped) and stops holding. */
  release(): void;
  close(): Promise<void>;
}

export async function startUpstreamGate(target?: string): Promise<UpstreamGate> {
  let holding = false;
  let waiting: HeldCall[] = [];
  const server: Server = createServer((req, res) => {
    const forward = () => {
      if (!gate.target) {
        res.writeHead(502).end();
        return;
      }
      const upstream = new URL(gate.target);
      const call = request(
        {
          host: upstream.hostname,
          port: upstream.port,
          path: req.url,
          method: req.method,
          headers: { ...req.headers, host: upstream.host },
          localAddress: req.socket.remoteAddress,
        },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      call.on('error', (error) => res.destroy(error));
      req.pipe(call);
    };
    if (holding)
      waiting.push({
        from: req.socket.remoteAddress,
        path: req.url ?? '',
        forward,
        alive: () => !req.socket.destroyed,
      });
    else forward();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const release = () => {
    holding = false;
    const calls = waiting;
    waiting = [];
    for (const call of calls) if (call.alive()) call.forward();
  };
  const gate: UpstreamGate = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    target,
    get held() {
      return waiting;
    },
    hold() {
      holding = true;
    },
    release,
    async close() {
      release();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return gate;
}
