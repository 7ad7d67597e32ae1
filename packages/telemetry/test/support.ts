import type { ReadableSpan, SpanProcessor } from '@opentelemetry/sdk-trace';
import TransportStream from 'winston-transport';

const MESSAGE = Symbol.for('message');

/** A winston transport that keeps every formatted line, parsed, in `lines`. */
export class CaptureTransport extends TransportStream {
  readonly lines: Record<string, unknown>[] = [];
  /** The raw JSON text of every line, to check key order and serialisation. */
  readonly raw: string[] = [];

  override log(info: Record<string | symbol, unknown>, callback: () => void): void {
    const text = String(info[MESSAGE]);
    this.raw.push(text);
    this.lines.push(JSON.parse(text) as Record<string, unknown>);
    callback();
  }
}

/** Polls `predicate` every few ms; fails after `timeoutMs`. */
export async function until(
  predicate: () => boolean | Promise<boolean>,
  timeoutMs = 5000,
  what = 'condition',
) {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** A span processor that keeps every ended span in `into`. */
export function keepEnded(into: ReadableSpan[]): SpanProcessor {
  return {
    onStart: () => {},
    onEnd: (span) => into.push(span),
    forceFlush: async () => {},
    shutdown: async () => {},
  };
}
