/** The parts of an LDBWS station board the platform relies on; everything else passes through. */
export interface StationBoard {
  generatedAt: string;
  locationName: string;
  crs: string;
  filtercrs?: string | null;
  trainServices: unknown[] | null;
  [field: string]: unknown;
}

export function isStationBoard(value: unknown): value is StationBoard {
  const v = value as Partial<StationBoard> | null;
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof v.crs === 'string' &&
    typeof v.locationName === 'string' &&
    (v.trainServices === null || v.trainServices === undefined || Array.isArray(v.trainServices))
  );
}

export function serviceCount(board: StationBoard): number {
  return board.trainServices?.length ?? 0;
}

/** The board with at most `rows` services. */
export function firstRows(board: StationBoard, rows: number): StationBoard {
  return board.trainServices ? { ...board, trainServices: board.trainServices.slice(0, rows) } : board;
}
