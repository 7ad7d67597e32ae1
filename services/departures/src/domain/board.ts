import { type StationBoard, stationBoardSchema } from '@failway/contract';

/** The parts of an LDBWS station board the platform relies on; everything else passes through. */
export type { StationBoard };

/** Whether `value` is a station board (the schema shared with the gateway, @failway/contract). */
export function isStationBoard(value: unknown): value is StationBoard {
  return stationBoardSchema.safeParse(value).success;
}

export function serviceCount(board: StationBoard): number {
  return board.trainServices?.length ?? 0;
}

/** The board with at most `rows` services. */
export function firstRows(board: StationBoard, rows: number): StationBoard {
  return board.trainServices ? { ...board, trainServices: board.trainServices.slice(0, rows) } : board;
}
