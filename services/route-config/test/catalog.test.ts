import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkDefaultRoute, parseCatalog } from '../src/domain/catalog.ts';

const STATIONS =
  'stations:\n  - { crs: WHP, name: West Hampstead Thameslink }\n  - { crs: LTN, name: Luton Airport Parkway }\n';

function errorsOf(text: string): string[] {
  const result = parseCatalog(text);
  if (result.ok) throw new Error('expected the catalog to be refused');
  return result.errors;
}

describe('parseCatalog', () => {
  it('when the shipped routes file is read, then it is valid and has the Thameslink stations and WHP to LTN', () => {
    const result = parseCatalog(readFileSync(new URL('../config/routes.yaml', import.meta.url), 'utf8'));
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.catalog.stations).toHaveLength(21);
    expect(result.catalog.stations).toContainEqual({ crs: 'LTN', name: 'Luton Airport Parkway' });
    expect(result.catalog.routes).toContainEqual({
      id: 'whp-ltn',
      name: 'West Hampstead to Luton Airport',
      from: 'WHP',
      to: 'LTN',
    });
  });

  it('when a route names an unknown station, then the error names the route and the field', () => {
    const errors = errorsOf(`${STATIONS}routes:\n  - { id: whp-xyz, name: Nowhere, from: WHP, to: XYZ }\n`);
    expect(errors).toEqual(['routes[0] (id "whp-xyz").to: "XYZ" is not a station of the catalog']);
  });

  it('when a station code is malformed, then the error names the station entry', () => {
    const errors = errorsOf('stations:\n  - { crs: WHP, name: A }\n  - { crs: ltn, name: B }\n');
    expect(errors[0]).toMatch(/^stations\[1\] \(crs "ltn"\)\.crs: must be a 3-letter/);
  });

  it('when ids or stations repeat, or a route goes nowhere, then each is named', () => {
    const errors = errorsOf(
      `${STATIONS}  - { crs: WHP, name: Again }\nroutes:\n  - { id: a, name: A, from: WHP, to: LTN }\n  - { id: a, name: B, from: LTN, to: LTN }\n`,
    );
    expect(errors).toEqual(
      expect.arrayContaining([
        'stations[2] (crs "WHP"): duplicate station',
        'routes[1] (id "a"): duplicate route id',
        'routes[1] (id "a"): from and to are the same station',
      ]),
    );
  });

  it('when the file is not YAML or has unknown keys, then it is refused with a reason', () => {
    expect(errorsOf('stations: [unclosed')[0]).toMatch(/^not valid YAML/);
    expect(errorsOf(`${STATIONS}colour: red\n`)[0]).toMatch(/colour/);
    expect(errorsOf('routes: []\n')[0]).toMatch(/^stations/);
  });
});

describe('checkDefaultRoute', () => {
  it('when DEFAULT_FROM or DEFAULT_TO is not in the catalog, then the variable is named', () => {
    const result = parseCatalog(STATIONS);
    if (!result.ok) throw new Error('fixture invalid');
    expect(checkDefaultRoute(result.catalog, 'WHP', 'LTN')).toEqual([]);
    expect(checkDefaultRoute(result.catalog, 'ABC', 'LTN')).toEqual([
      'DEFAULT_FROM: "ABC" is not a station of the catalog',
    ]);
    expect(checkDefaultRoute(result.catalog, 'WHP', 'WHP')).toEqual([
      'DEFAULT_TO: must differ from DEFAULT_FROM',
    ]);
  });
});
