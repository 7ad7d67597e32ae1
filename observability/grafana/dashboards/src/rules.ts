// The Prometheus alerts the dashboards show, read from observability/prometheus/rules when the
// dashboards are generated: the "Alerts firing now" table lists exactly these alerts and links
// each to its runbook, so a new alert shows up after `npm run dashboards` and nobody else's does.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const RULES_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../../prometheus/rules');

interface Rule {
  alert?: string;
  annotations?: Record<string, string>;
}

/** Grafana's variable for the value of a table cell, in a data link (spelt so no linter reads JS). */
export const CELL_VALUE = ['$', '{__value.raw}'].join('');

export interface Alert {
  name: string;
  runbookUrl: string;
}

/** Every alert of every rules file, in file and rule order. */
export function platformAlerts(): Alert[] {
  const files = readdirSync(RULES_DIR)
    .filter((f) => f.endsWith('.yml'))
    .sort();
  return files.flatMap((file) => {
    const doc = parse(readFileSync(join(RULES_DIR, file), 'utf8')) as { groups: { rules: Rule[] }[] };
    return doc.groups
      .flatMap((g) => g.rules)
      .filter((r): r is Rule & { alert: string } => typeof r.alert === 'string')
      .map((r) => ({ name: r.alert, runbookUrl: r.annotations?.runbook_url ?? '' }));
  });
}

/**
 * The URL template of the alerts' runbooks with CELL_VALUE for the alert name, which a table cell's
 * data link fills in. Throws unless every alert's runbook_url follows one pattern.
 */
export function runbookLinkTemplate(alerts = platformAlerts()): string {
  const [first] = alerts;
  if (!first) throw new Error('no alerts in observability/prometheus/rules');
  const template = first.runbookUrl.replace(first.name, CELL_VALUE);
  for (const alert of alerts) {
    if (template.replace(CELL_VALUE, alert.name) !== alert.runbookUrl)
      throw new Error(`${alert.name}: runbook_url ${alert.runbookUrl} does not follow ${template}`);
  }
  return template;
}
