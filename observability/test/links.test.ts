// The Grafana links people click: the README's "Follow one request" walkthrough and the runbooks'
// panel links. No Grafana runs here, so each link is resolved against what Grafana would load: the
// committed dashboards, the provisioned data sources, and the anonymous role compose gives visitors.
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { REPO_ROOT } from '@failway/testkit';
import { parser as logqlParser } from '@grafana/lezer-logql';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { allPanels, type DashboardJson, dashboardFiles, readDashboard } from './dashboards.ts';

const GRAFANA = 'http://localhost:3000';
const RUNBOOKS_DIR = resolve(REPO_ROOT, 'docs/runbooks');
const read = (path: string) => readFileSync(resolve(REPO_ROOT, path), 'utf8');

interface Link {
  text: string;
  url: string;
}

/** Inline `[text](url)` and reference `[text][ref]` links of a Markdown text, text on one line. */
function markdownLinks(markdown: string): Link[] {
  const refs = new Map(
    [...markdown.matchAll(/^\[([^\]]+)\]:\s*(\S+)\s*$/gm)].map((m) => [m[1] as string, m[2] as string]),
  );
  const links: Link[] = [];
  for (const m of markdown.matchAll(/\[([^\]]+)\](?:\(([^)\s]+)\)|\[([^\]]+)\])/g)) {
    const url = m[2] ?? refs.get(m[3] ?? '');
    if (url) links.push({ text: (m[1] as string).replace(/\s+/g, ' ').trim(), url });
  }
  return links;
}

const dashboards = new Map(dashboardFiles().map((f) => [readDashboard(f).uid, readDashboard(f)]));

interface Datasource {
  uid: string;
  type: string;
  jsonData?: Record<string, unknown>;
}
const datasources = (
  parse(read('observability/grafana/provisioning/datasources/datasources.yaml')) as {
    datasources: Datasource[];
  }
).datasources;
const jsonData = (uid: string) => datasources.find((d) => d.uid === uid)?.jsonData ?? {};

/** Problems with a link to a dashboard or one of its panels; the link text must name what it opens. */
function dashboardLinkProblems(link: Link, all = dashboards): string[] {
  const url = new URL(link.url);
  const uid = /^\/d\/([^/]+)/.exec(url.pathname)?.[1] ?? '';
  const dashboard = all.get(uid);
  if (!dashboard) return [`${link.url}: no dashboard ${uid}`];
  const problems: string[] = [];
  const variables = new Set((dashboard.templating?.list ?? []).map((v) => v.name));
  const values: Record<string, string> = {};
  for (const [key, value] of url.searchParams) {
    if (!key.startsWith('var-')) continue;
    if (!variables.has(key.slice(4))) problems.push(`${link.url}: ${uid} has no variable ${key.slice(4)}`);
    values[key.slice(4)] = value;
  }
  const viewPanel = url.searchParams.get('viewPanel');
  if (viewPanel === null) {
    if (link.text !== dashboard.title)
      problems.push(`${link.url}: "${link.text}" is not "${dashboard.title}"`);
    return problems;
  }
  const id = Number(/^panel-(\d+)$/.exec(viewPanel)?.[1]);
  const panel = allPanels(dashboard).find((p) => p.id === id && p.type !== 'row');
  if (!panel) return [...problems, `${link.url}: ${uid} has no panel ${viewPanel}`];
  const title = panel.title ?? '';
  const shown = title.replace(/\$(\w+)/g, (whole, name: string) => values[name] ?? whole);
  if (link.text !== title && link.text !== shown)
    problems.push(`${link.url}: "${link.text}" is not the panel's title "${title}"`);
  return problems;
}

/** Problems with a link to Explore: every pane's data source is provisioned, every query sound. */
function exploreLinkProblems(link: Link): string[] {
  const panes = JSON.parse(new URL(link.url).searchParams.get('panes') ?? '{}') as Record<
    string,
    { datasource: string; queries: { datasource: { uid: string }; queryType?: string; expr?: string }[] }
  >;
  const problems: string[] = [];
  if (Object.keys(panes).length === 0) problems.push(`${link.url}: no panes`);
  for (const pane of Object.values(panes)) {
    if (!datasources.some((d) => d.uid === pane.datasource))
      problems.push(`${link.url}: no data source ${pane.datasource}`);
    for (const query of pane.queries) {
      const ds = datasources.find((d) => d.uid === query.datasource.uid);
      if (!ds) problems.push(`${link.url}: no data source ${query.datasource.uid}`);
      if (ds?.type === 'tempo' && !['traceql', 'serviceMap'].includes(query.queryType ?? ''))
        problems.push(`${link.url}: Tempo query type ${query.queryType}`);
      if (ds?.type === 'tempo' && query.queryType === 'serviceMap' && !jsonData('tempo').serviceMap)
        problems.push(`${link.url}: the Tempo data source has no serviceMap data source`);
      if (ds?.type === 'loki') {
        const expr = query.expr ?? '';
        let broken = expr === '';
        logqlParser.parse(expr).iterate({
          enter(node) {
            if (node.type.isError) broken = true;
          },
        });
        if (broken) problems.push(`${link.url}: LogQL does not parse: ${expr}`);
      }
    }
  }
  return problems;
}

function linkProblems(link: Link): string[] {
  if (!link.url.startsWith(`${GRAFANA}/`)) return [];
  const path = new URL(link.url).pathname;
  if (path.startsWith('/d/')) return dashboardLinkProblems(link);
  if (path === '/explore') return exploreLinkProblems(link);
  return [`${link.url}: not a dashboard or Explore link`];
}

/** The walkthrough's bold words name buttons and fields; each must be what the provisioning makes. */
const BUTTONS: Record<string, () => boolean> = {
  // An exemplar's link (Prometheus) and a log line's trace_id link (Loki) both say this.
  'Open trace in Tempo': () => {
    const exemplar = (
      jsonData('prometheus').exemplarTraceIdDestinations as {
        urlDisplayLabel?: string;
        datasourceUid?: string;
      }[]
    )?.[0];
    const derived = (
      jsonData('loki').derivedFields as { urlDisplayLabel?: string; datasourceUid?: string }[]
    )?.[0];
    return (
      exemplar?.urlDisplayLabel === 'Open trace in Tempo' &&
      exemplar.datasourceUid === 'tempo' &&
      derived?.urlDisplayLabel === 'Open trace in Tempo' &&
      derived.datasourceUid === 'tempo'
    );
  },
  // Grafana's button in the trace view when the Tempo data source has tracesToLogsV2.
  'Logs for this span': () =>
    (jsonData('tempo').tracesToLogsV2 as { datasourceUid?: string })?.datasourceUid === 'loki',
  trace_id: () => (jsonData('loki').derivedFields as { name?: string }[])?.[0]?.name === 'trace_id',
};

function readmeWalkthrough(): string {
  const readme = read('README.md');
  const start = readme.indexOf('### Follow one request');
  return readme.slice(start, readme.indexOf('\n## ', start));
}

describe('the README walkthrough "Follow one request"', () => {
  const section = readmeWalkthrough();
  const links = markdownLinks(section).filter((l) => l.url.startsWith(GRAFANA));

  it('is for anonymous visitors, who get a role that can open Explore', () => {
    const compose = parse(read('compose.yaml'), { merge: true }) as {
      services: { grafana: { environment: Record<string, string> } };
    };
    const env = compose.services.grafana.environment;
    expect(env.GF_AUTH_ANONYMOUS_ENABLED).toBe('true');
    // Viewers cannot open Explore (Grafana 12 removed viewers_can_edit); every step ends there.
    expect(['Editor', 'Admin']).toContain(env.GF_AUTH_ANONYMOUS_ORG_ROLE);
    expect(links.some((l) => l.url.startsWith(`${GRAFANA}/explore`))).toBe(true);
    // ... and cannot save over the dashboards the links open.
    const provider = parse(read('observability/grafana/provisioning/dashboards/failway.yaml')) as {
      providers: { allowUiUpdates: boolean }[];
    };
    expect(provider.providers.every((p) => p.allowUiUpdates === false)).toBe(true);
    expect(datasources.every((d) => (d as { editable?: boolean }).editable === false)).toBe(true);
  });

  it('links dashboards, panels and Explore panes that exist, each named as Grafana shows it', () => {
    expect(links.length).toBeGreaterThanOrEqual(7);
    expect(links.flatMap(linkProblems)).toEqual([]);
    // Every kind of target is covered: a panel, a Tempo, a Loki and a service graph pane.
    const kinds = new Set(
      links.map((l) => {
        const url = new URL(l.url);
        if (url.pathname.startsWith('/d/')) return url.searchParams.has('viewPanel') ? 'panel' : 'dashboard';
        const pane = Object.values(JSON.parse(url.searchParams.get('panes') ?? '{}'))[0] as {
          queries: { queryType?: string; datasource: { uid: string } }[];
        };
        return pane.queries[0]?.queryType ?? pane.queries[0]?.datasource.uid;
      }),
    );
    expect([...kinds].sort()).toEqual(['dashboard', 'loki', 'panel', 'serviceMap', 'traceql']);
  });

  it('names only buttons and fields the provisioned data sources make', () => {
    const bold = [...section.matchAll(/\*\*([^*]+)\*\*/g)].map((m) => m[1] as string);
    expect(bold.length).toBeGreaterThanOrEqual(3);
    for (const label of bold) {
      const check = BUTTONS[label];
      expect(check, `**${label}**: no check for this button`).toBeDefined();
      expect(check?.(), `**${label}**`).toBe(true);
    }
  });

  it('finds broken links (so the checks above can fail)', () => {
    const panel = (text: string, url: string) => linkProblems({ text, url });
    expect(panel('Service graph', `${GRAFANA}/d/failway-overview?viewPanel=panel-11`)).toEqual([]);
    expect(panel('Service graph', `${GRAFANA}/d/failway-overview?viewPanel=panel-999`)).toHaveLength(1);
    expect(panel('Departures dashboard', `${GRAFANA}/d/failway-departures`)).toHaveLength(1);
    expect(panel('Request rate by service', `${GRAFANA}/d/failway-overview?viewPanel=panel-11`)).toHaveLength(
      1,
    );
    expect(panel('Failway · Service detail', `${GRAFANA}/d/failway-service?var-nope=x`)).toHaveLength(1);
    const loki = `${GRAFANA}/explore?panes=${encodeURIComponent(
      JSON.stringify({
        a: { datasource: 'loki', queries: [{ datasource: { uid: 'loki' }, expr: '{a="b"' }] },
      }),
    )}`;
    expect(panel('Explore', loki)).toHaveLength(1);
    expect(markdownLinks('[a\n b][r] and [c](http://x/y)\n\n[r]: http://z/')).toEqual([
      { text: 'a b', url: 'http://z/' },
      { text: 'c', url: 'http://x/y' },
    ]);
  });
});

describe('the runbooks', () => {
  const runbooks = readdirSync(RUNBOOKS_DIR)
    .filter((f) => f.endsWith('.md') && f !== 'README.md')
    .map((f) => ({ file: f, text: readFileSync(join(RUNBOOKS_DIR, f), 'utf8') }));

  it('link only dashboards and panels that exist, by their titles', () => {
    const links = runbooks.flatMap(({ file, text }) =>
      markdownLinks(text)
        .filter((l) => l.url.startsWith(GRAFANA))
        .map((l) => ({ file, link: l })),
    );
    expect(links.length).toBeGreaterThan(runbooks.length * 2);
    expect(links.flatMap(({ file, link }) => linkProblems(link).map((p) => `${file}: ${p}`))).toEqual([]);
  });

  it('each point at the panels to look at, by link', () => {
    for (const { file, text } of runbooks) {
      const look = text.slice(text.indexOf('## What to look at'), text.indexOf('## What to do'));
      const grafana = look.split(/^(?=\d+\. )/m).find((item) => item.includes('**Grafana**')) ?? '';
      expect(grafana, `${file}: no **Grafana** item under "What to look at"`).not.toBe('');
      const panels = markdownLinks(grafana).filter(
        (l) => l.url.startsWith(GRAFANA) && new URL(l.url).searchParams.has('viewPanel'),
      );
      expect(panels.length, `${file}: the Grafana item links no panel`).toBeGreaterThan(0);
    }
  });

  it('name no dashboard that does not exist', () => {
    const titles = [...dashboards.values()].map((d: DashboardJson) => d.title);
    expect(titles).toContain('Failway · Ban handling');
    for (const { file, text } of runbooks) {
      // The dashboards of the first runbooks: "departures dashboard", "gateway dashboard", …
      expect(text, file).not.toMatch(/\b(departures|gateway|route-config) (dashboard|panels)\b/i);
      expect(text, file).not.toMatch(/`up` by `job`/);
    }
  });
});
