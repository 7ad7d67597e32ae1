/** A bookable station in the simulated area, named as Darwin names it. */
export interface Station {
  crs: string;
  name: string;
  tiploc: string | null;
}

/** A location outside the simulated area that services start or end at; it has no board of its own. */
export interface Terminus {
  crs: string;
  name: string;
}

/** The Thameslink stations on the Midland Main Line core that have departure boards. */
export const STATIONS: readonly Station[] = [
  { crs: 'WHP', name: 'West Hampstead Thameslink', tiploc: 'WHMPSTM' },
  { crs: 'CRI', name: 'Cricklewood', tiploc: 'CRKLWD' },
  // Opened in 2023; no TIPLOC is recorded for it here.
  { crs: 'BCZ', name: 'Brent Cross West', tiploc: null },
  { crs: 'HEN', name: 'Hendon', tiploc: 'HDON' },
  { crs: 'MIL', name: 'Mill Hill Broadway', tiploc: 'MLHB' },
  { crs: 'ELS', name: 'Elstree & Borehamwood', tiploc: 'ELTR' },
  { crs: 'RDT', name: 'Radlett', tiploc: 'RADLETT' },
  { crs: 'SAC', name: 'St Albans', tiploc: 'STALBCY' },
  { crs: 'HPD', name: 'Harpenden', tiploc: 'HRPNDN' },
  { crs: 'LTN', name: 'Luton Airport Parkway', tiploc: 'LUTOAPY' },
  { crs: 'LUT', name: 'Luton', tiploc: 'LUTON' },
  { crs: 'LEA', name: 'Leagrave', tiploc: 'LEAGRVE' },
  { crs: 'HLN', name: 'Harlington', tiploc: 'HRLG' },
  { crs: 'FLT', name: 'Flitwick', tiploc: 'FLITWCK' },
  { crs: 'BDM', name: 'Bedford', tiploc: 'BEDFDM' },
  { crs: 'KTN', name: 'Kentish Town', tiploc: 'KNTSHTN' },
  { crs: 'STP', name: 'London St Pancras (Intl)', tiploc: 'STPX' },
  { crs: 'ZFD', name: 'Farringdon', tiploc: 'FRNDNLT' },
  { crs: 'CTK', name: 'City Thameslink', tiploc: 'CTMSLNK' },
  { crs: 'BFR', name: 'London Blackfriars', tiploc: 'BLFR' },
  { crs: 'LBG', name: 'London Bridge', tiploc: 'LNDNBDE' },
];

/** Out-of-area origins and destinations of the simulated services. */
export const TERMINI: readonly Terminus[] = [
  { crs: 'BTN', name: 'Brighton' },
  { crs: 'TBD', name: 'Three Bridges' },
  { crs: 'GTW', name: 'Gatwick Airport' },
  { crs: 'SUO', name: 'Sutton (London)' },
  { crs: 'RAI', name: 'Rainham (Kent)' },
  { crs: 'SEV', name: 'Sevenoaks' },
  { crs: 'HRH', name: 'Horsham' },
];

/** The simulated stations in line order, south to north. */
export const LINE_ORDER: readonly string[] = [
  'LBG',
  'BFR',
  'CTK',
  'ZFD',
  'STP',
  'KTN',
  'WHP',
  'CRI',
  'BCZ',
  'HEN',
  'MIL',
  'ELS',
  'RDT',
  'SAC',
  'HPD',
  'LTN',
  'LUT',
  'LEA',
  'HLN',
  'FLT',
  'BDM',
];

/** Bookable stations by (upper-case) CRS. */
export const STATION_BY_CRS: ReadonlyMap<string, Station> = new Map(STATIONS.map((s) => [s.crs, s]));

const NAME_BY_CRS: ReadonlyMap<string, string> = new Map([
  ...STATIONS.map((s): [string, string] => [s.crs, s.name]),
  ...TERMINI.map((t): [string, string] => [t.crs, t.name]),
]);

/** The bookable station with this CRS (any case), or undefined. */
export function findStation(crs: string): Station | undefined {
  return STATION_BY_CRS.get(crs.toUpperCase());
}

/** The Darwin name of any known location (station or out-of-area terminus), or null. */
export function locationName(crs: string): string | null {
  return NAME_BY_CRS.get(crs.toUpperCase()) ?? null;
}
