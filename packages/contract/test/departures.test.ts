import { describe, expect, it } from 'vitest';
import { boardUnavailableProblemSchema, departuresAnswerSchema, stationBoardSchema } from '../src/index.ts';

const BOARD = {
  generatedAt: '2026-03-11T08:00:00.000Z',
  locationName: 'West Hampstead Thameslink',
  crs: 'WHP',
  filtercrs: 'LTN',
  trainServices: [{ std: '08:10', etd: 'On time', operator: 'Thameslink', serviceID: 'abc' }],
  nrccMessages: [{ Value: 'Engineering works' }],
};
const ANSWER = { board: BOARD, source: 'cache', ageSeconds: 12, fetchedAt: '2026-03-11T07:59:48.000Z' };

describe('stationBoardSchema', () => {
  it('when a board has fields the platform does not read, then they pass through untouched', () => {
    expect(stationBoardSchema.parse(BOARD)).toEqual(BOARD);
  });

  it('when no train runs, then trainServices may be null or absent', () => {
    expect(stationBoardSchema.safeParse({ ...BOARD, trainServices: null }).success).toBe(true);
    const { trainServices: _, ...none } = BOARD;
    expect(stationBoardSchema.safeParse(none).success).toBe(true);
  });

  it.each([
    ['no crs', { ...BOARD, crs: undefined }],
    ['a crs that is not a CRS code', { ...BOARD, crs: 'whp' }],
    ['no locationName', { ...BOARD, locationName: undefined }],
    ['no generatedAt', { ...BOARD, generatedAt: undefined }],
    ['trainServices that is not a list', { ...BOARD, trainServices: 'none' }],
    ['a train without its scheduled time', { ...BOARD, trainServices: [{ etd: 'On time' }] }],
    ['a list instead of a board', [BOARD]],
  ])('when a board has %s, then it is refused', (_what, value) => {
    expect(stationBoardSchema.safeParse(value).success).toBe(false);
  });
});

describe('departuresAnswerSchema', () => {
  it('when departures answers a board, fresh or stale with its reason, then it parses', () => {
    expect(departuresAnswerSchema.parse(ANSWER)).toEqual(ANSWER);
    const stale = { ...ANSWER, source: 'stale', staleReason: 'budget_exhausted' };
    expect(departuresAnswerSchema.parse(stale)).toEqual(stale);
  });

  it.each([
    ['an unknown source', { ...ANSWER, source: 'guess' }],
    ['a negative age', { ...ANSWER, ageSeconds: -1 }],
    ['a fractional age', { ...ANSWER, ageSeconds: 1.5 }],
    ['a fetch time that is no time', { ...ANSWER, fetchedAt: 'yesterday' }],
    ['an unknown stale reason', { ...ANSWER, source: 'stale', staleReason: 'tired' }],
    ['a board that is not one', { ...ANSWER, board: { hello: 'world' } }],
  ])('when an answer has %s, then it is refused', (_what, value) => {
    expect(departuresAnswerSchema.safeParse(value).success).toBe(false);
  });
});

describe('boardUnavailableProblemSchema', () => {
  it('when departures answers 503 problem+json, then its reason, retry and ban end parse', () => {
    const problem = {
      type: 'urn:failway:problem:board-unavailable-banned',
      status: 503,
      reason: 'banned',
      retry_after_seconds: 300,
      banned_until: '2026-03-11T09:00:00.000Z',
    };
    expect(boardUnavailableProblemSchema.parse(problem)).toEqual(problem);
    expect(boardUnavailableProblemSchema.safeParse({ ...problem, reason: 'unknown' }).success).toBe(false);
    expect(boardUnavailableProblemSchema.safeParse({ status: 503 }).success).toBe(false);
  });
});
