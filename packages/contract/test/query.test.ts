import { describe, expect, it } from 'vitest';
import { crsValue, distinctStations, MAX_ROWS, QueryError, rowsValue, singleValue } from '../src/index.ts';

function refusal(fn: () => unknown): { field: string; detail: string } {
  try {
    fn();
  } catch (error) {
    if (error instanceof QueryError) return { field: error.field, detail: error.detail };
    throw error;
  }
  throw new Error('accepted');
}

describe('the query checks shared by the gateway and the replicas', () => {
  it('when a parameter is absent, then it is undefined; once, its value; repeated or structured, refused', () => {
    expect(singleValue({}, 'to')).toBeUndefined();
    expect(singleValue({ to: 'LTN' }, 'to')).toBe('LTN');
    for (const value of [['LTN', 'STP'], { a: 'b' }])
      expect(refusal(() => singleValue({ to: value }, 'to'))).toEqual({
        field: 'to',
        detail: 'must be given once, as a plain value',
      });
  });

  it('when a CRS code has three letters of either case, then it is upper-cased; anything else is refused, quoted to 20 characters', () => {
    expect(crsValue('from', 'whp')).toBe('WHP');
    for (const bad of ['WH', 'WHPX', 'WH1', '', 'ÅBC', 'W P'])
      expect(refusal(() => crsValue('from', bad)).field).toBe('from');
    expect(refusal(() => crsValue('to', 'x'.repeat(50), 'LTN')).detail).toBe(
      `must be a 3-letter CRS station code such as LTN, got "${'x'.repeat(20)}"`,
    );
  });

  it(`when rows is 1 to ${MAX_ROWS} in decimal digits, then it is that number; absent, ${MAX_ROWS}; otherwise refused`, () => {
    expect(rowsValue(undefined)).toBe(MAX_ROWS);
    expect(rowsValue('1')).toBe(1);
    expect(rowsValue('010')).toBe(10);
    for (const bad of ['0', '11', '-1', '+3', '3.0', '1e1', ' 3', '', 'abc', '1000'])
      expect(
        refusal(() => rowsValue(bad)),
        bad,
      ).toEqual({
        field: 'rows',
        detail: `must be a whole number from 1 to ${MAX_ROWS}`,
      });
  });

  it('when the destination is the departure station, then `to` is refused; no destination is fine', () => {
    expect(refusal(() => distinctStations('WHP', 'WHP')).field).toBe('to');
    expect(() => distinctStations('WHP', undefined)).not.toThrow();
    expect(() => distinctStations('WHP', 'LTN')).not.toThrow();
  });
});
