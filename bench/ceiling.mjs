// The machine's ceiling for the bench, one process per role (the services are separate processes
// too), nothing but node:http. Plain JavaScript so that Node loads no TypeScript stripper: its
// resident memory is bare Node's.
//
//   node bench/ceiling.mjs server   answers every request with BODY_FILE's bytes (CONTENT_TYPE)
//   node bench/ceiling.mjs relay   forwards every request to 127.0.0.1:TARGET_PORT over a
//                                  keep-alive http.Agent and streams the answer back
//
// Both listen on a free loopback port and print {"port":N} on stdout. GET /__bench/lag answers
// the event loop's p99 delay (seconds) since the last ask, measured like prom-client's
// nodejs_eventloop_lag_p99_seconds (monitorEventLoopDelay, 10 ms resolution), so the ceiling rows
// have that column too.
import { readFileSync } from 'node:fs';
import { Agent, createServer, request } from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';

const mode = process.argv[2];
const lag = monitorEventLoopDelay({ resolution: 10 });
lag.enable();

/** @param {import('node:http').ServerResponse} res */
function answerLag(res) {
  const p99 = lag.percentile(99) / 1e9;
  lag.reset();
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ p99 }));
}

/** @type {(req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => void} */
let handler;
if (mode === 'server') {
  const body = readFileSync(process.env.BODY_FILE ?? '');
  const headers = {
    'content-type': process.env.CONTENT_TYPE ?? 'application/json',
    'content-length': body.length,
  };
  handler = (_req, res) => {
    res.writeHead(200, headers);
    res.end(body);
  };
} else if (mode === 'relay') {
  const targetPort = Number(process.env.TARGET_PORT);
  const agent = new Agent({ keepAlive: true });
  handler = (req, res) => {
    const upstream = request(
      { host: '127.0.0.1', port: targetPort, path: req.url, method: req.method, agent },
      (answer) => {
        /** @type {Record<string, string | string[]>} */
        const headers = {};
        for (const name of ['content-type', 'content-length']) {
          const value = answer.headers[name];
          if (value !== undefined) headers[name] = value;
        }
        res.writeHead(answer.statusCode ?? 502, headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(upstream);
  };
} else {
  console.error('usage: node bench/ceiling.mjs server|relay');
  process.exit(2);
}

const server = createServer((req, res) => {
  if (req.url === '/__bench/lag') answerLag(res);
  else handler(req, res);
});
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(
    `${JSON.stringify({ port: typeof address === 'object' && address ? address.port : 0 })}\n`,
  );
});
const stop = () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 2_000).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
