import { connect } from 'node:net';

/** Minutes to shift rail-sim's clock (SIM_TIME_OFFSET_MIN) so its boards show `hour`:00 London time. */
export function simOffsetToLondonHour(hour: number, now = new Date()): number {
  const parts = new Intl.DateTimeFormat('en-GB', {
    timeZone: 'Europe/London',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(now);
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value ?? 0);
  const minutes = get('hour') * 60 + get('minute');
  return (((hour * 60 - minutes) % 1440) + 1440) % 1440;
}

/** `at` as London wall-clock time, "HH:MM". */
export function londonHhmm(at: Date): string {
  return new Intl.DateTimeFormat('en-GB', {
    timeZone: 'Europe/London',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  }).format(at);
}

/**
 * Minutes in [-720, 720) to shift rail-sim's clock so its boards show `hh`:`mm` London time now;
 * checked against the real London time, so it holds on clock-change days too.
 */
export function simOffsetToLondonTime(hh: number, mm: number): number {
  const wanted = `${String(hh).padStart(2, '0')}:${String(mm).padStart(2, '0')}`;
  const base = simOffsetToLondonHour(hh) + mm;
  for (const candidate of [base, base - 60, base + 60]) {
    const offset = ((((candidate + 720) % 1440) + 1440) % 1440) - 720;
    if (londonHhmm(new Date(Date.now() + offset * 60_000)) === wanted) return offset;
  }
  throw new Error(`no offset shows ${wanted} in London`);
}

/** The message `load` throws for `env` (a service's loadConfig); throws when it accepts `env`. */
export function configErrorOf(
  load: (env: NodeJS.ProcessEnv) => unknown,
  env: Record<string, string>,
): string {
  try {
    load(env);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
}

/** Reads one sample from Prometheus text, matching the metric name and every given label. */
export function metricValue(
  text: string,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const labelPart = line.slice(name.length).match(/^\{([^}]*)\}/)?.[1] ?? '';
    if (Object.entries(labels).every(([k, v]) => labelPart.includes(`${k}="${v}"`))) {
      const value = line
        .slice(name.length + (labelPart ? labelPart.length + 2 : 0))
        .trim()
        .split(' ')[0];
      return Number(value);
    }
  }
  return undefined;
}

/**
 * Writes `request` as raw bytes to 127.0.0.1:`port` and resolves with everything the server sends
 * until it closes the connection (for requests fetch refuses to send, e.g. a CR inside a header).
 */
export function rawHttpExchange(port: number, request: string, timeoutMs = 5_000): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(request));
    let data = '';
    socket.on('data', (d) => {
      data += d.toString();
    });
    socket.on('end', () => resolve(data));
    socket.on('error', reject);
    socket.setTimeout(timeoutMs, () => {
      socket.destroy();
      reject(new Error(`no answer within ${timeoutMs} ms`));
    });
  });
}
