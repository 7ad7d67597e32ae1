import { describe, expect, it } from 'vitest';
import { safeStringify } from '../src/json.ts';

describe('safeStringify', () => {
  it('when a record is flat (strings, numbers, booleans, nulls), then it is plain JSON', () => {
    const record = { level: 'info', status: 200, ok: true, trace_id: null, gone: undefined, nan: Number.NaN };
    expect(safeStringify(record)).toBe(JSON.stringify(record));
    expect(safeStringify(record)).toBe('{"level":"info","status":200,"ok":true,"trace_id":null,"nan":null}');
  });

  it('when a value is a BigInt, at the top or nested, then it is written as a string', () => {
    expect(safeStringify({ n: 10n })).toBe('{"n":"10"}');
    expect(safeStringify({ a: { n: 10n } })).toBe('{"a":{"n":"10"}}');
  });

  it('when a value is an Error, then its name, message and stack are written', () => {
    const err = new Error('boom');
    expect(JSON.parse(safeStringify({ err }))).toEqual({
      err: { name: 'Error', message: 'boom', stack: err.stack },
    });
  });

  it('when a record holds a cycle, then it is "[Circular]"; the same object in two branches is written twice', () => {
    const a: Record<string, unknown> = { x: 1 };
    a.self = a;
    expect(safeStringify({ a })).toBe('{"a":{"x":1,"self":"[Circular]"}}');
    const s = { crs: 'WHP' };
    expect(safeStringify({ from: s, to: s })).toBe('{"from":{"crs":"WHP"},"to":{"crs":"WHP"}}');
  });

  it('when an object has its own toJSON, then it is honoured as JSON.stringify would', () => {
    const when = new Date(0);
    expect(safeStringify({ when })).toBe('{"when":"1970-01-01T00:00:00.000Z"}');
  });
});
