import { type Route, routeSchema, type Station, stationSchema } from '@failway/contract';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

export type { Route, Station };

/** Stations and preset routes, validated as a whole. */
export interface Catalog {
  stations: Station[];
  routes: Route[];
}

// The contract's schemas, strict here: a routes file with a misspelt key is refused, not ignored.
const file = z.strictObject({
  stations: z.array(z.strictObject(stationSchema.shape)).min(1, 'must list at least one station'),
  routes: z.array(z.strictObject(routeSchema.shape)).default([]),
});

/** Where an issue is, as a person reads it: `routes[2] (id "x").to`. */
function locate(data: unknown, path: PropertyKey[]): string {
  const [section, index, ...rest] = path;
  let where = String(section ?? '(file)');
  if (typeof index === 'number') {
    const entry = (data as Record<string, { id?: unknown; crs?: unknown }[]>)[String(section)]?.[index];
    const key = entry?.id ?? entry?.crs;
    where += `[${index}]${typeof key === 'string' ? ` (${section === 'routes' ? 'id' : 'crs'} "${key}")` : ''}`;
  }
  return rest.length > 0 ? `${where}.${rest.join('.')}` : where;
}

export type ParseResult = { ok: true; catalog: Catalog } | { ok: false; errors: string[] };

/** Parses and checks a routes file; every error names the entry it is about. */
export function parseCatalog(text: string): ParseResult {
  let data: unknown;
  try {
    data = parseYaml(text);
  } catch (error) {
    return { ok: false, errors: [`not valid YAML: ${(error as Error).message.split('\n')[0]}`] };
  }
  const result = file.safeParse(data);
  if (!result.success) {
    return { ok: false, errors: result.error.issues.map((i) => `${locate(data, i.path)}: ${i.message}`) };
  }
  const { stations, routes } = result.data;
  const errors: string[] = [];
  const known = new Set<string>();
  stations.forEach((s, i) => {
    if (known.has(s.crs)) errors.push(`stations[${i}] (crs "${s.crs}"): duplicate station`);
    known.add(s.crs);
  });
  const ids = new Set<string>();
  routes.forEach((r, i) => {
    const where = `routes[${i}] (id "${r.id}")`;
    if (ids.has(r.id)) errors.push(`${where}: duplicate route id`);
    ids.add(r.id);
    if (!known.has(r.from)) errors.push(`${where}.from: "${r.from}" is not a station of the catalog`);
    if (!known.has(r.to)) errors.push(`${where}.to: "${r.to}" is not a station of the catalog`);
    if (r.from === r.to) errors.push(`${where}: from and to are the same station`);
  });
  return errors.length > 0 ? { ok: false, errors } : { ok: true, catalog: { stations, routes } };
}

/** Problems with the default route in this catalog (empty when it is fine). */
export function checkDefaultRoute(catalog: Catalog, from: string, to: string): string[] {
  const known = new Set(catalog.stations.map((s) => s.crs));
  const errors: string[] = [];
  if (!known.has(from)) errors.push(`DEFAULT_FROM: "${from}" is not a station of the catalog`);
  if (!known.has(to)) errors.push(`DEFAULT_TO: "${to}" is not a station of the catalog`);
  if (from === to) errors.push('DEFAULT_TO: must differ from DEFAULT_FROM');
  return errors;
}
