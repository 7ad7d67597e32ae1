import { describe, expect, it } from 'vitest';
import { REQUEST_ID_HEADER, resolveRequestId } from '../src/request-id.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('resolveRequestId', () => {
  it('names the lower-case header node puts incoming request IDs under', () => {
    expect(REQUEST_ID_HEADER).toBe('x-request-id');
  });

  it.each([
    ['letters, digits and . _ -', 'abc-123_X.y'],
    ['a single character', 'a'],
    ['exactly 128 characters', 'a'.repeat(128)],
    ['a UUID', '0b8a7c4e-1f2d-4e3a-9b5c-6d7e8f9a0b1c'],
  ])('when the caller sends %s, then the ID is kept as is', (_what, id) => {
    expect(resolveRequestId(id)).toBe(id);
  });

  it.each([
    ['an empty string', ''],
    ['129 characters', 'a'.repeat(129)],
    ['a space', 'abc def'],
    ['a semicolon', 'abc;def'],
    ['a carriage return', 'abc\rdef'],
    ['a line feed', 'abc\ndef'],
    ['a trailing line feed', 'abc\n'],
    ['non-ASCII letters', 'ábc'],
    ['a quote', 'abc"def'],
    ['a slash', 'abc/def'],
  ])('when the caller sends %s, then a new UUID replaces it', (_what, id) => {
    const resolved = resolveRequestId(id);
    expect(resolved).not.toBe(id);
    expect(resolved).toMatch(UUID);
  });

  it('when there is no header, then a new UUID is made each time', () => {
    const first = resolveRequestId(undefined);
    const second = resolveRequestId(undefined);
    expect(first).toMatch(UUID);
    expect(second).toMatch(UUID);
    expect(first).not.toBe(second);
  });

  it('when the header came several times, then the first value is taken', () => {
    expect(resolveRequestId(['first-id', 'second-id'])).toBe('first-id');
  });

  it('when the first of several values is invalid, then a new UUID is made rather than taking a later one', () => {
    const resolved = resolveRequestId(['bad id', 'good-id']);
    expect(resolved).toMatch(UUID);
  });

  it('when the header came as an empty list, then a new UUID is made', () => {
    expect(resolveRequestId([])).toMatch(UUID);
  });
});
