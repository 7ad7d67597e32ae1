import { Counter, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createMetrics, DURATION_BUCKETS, exemplarFor, render } from '../src/metrics.ts';

const OM_ACCEPT = 'application/openmetrics-text; version=1.0.0';
const TRACE_ID = '0af7651916cd43dd8448eb211c80319c';

/** The sample lines of an exposition (no comments, no blank lines). */
function samples(body: string): string[] {
  return body.split('\n').filter((line) => line !== '' && !line.startsWith('#'));
}

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: string;
  /** The text after ` # ` on an OpenMetrics exemplar line. */
  exemplar: string | undefined;
}

const SAMPLE = /^([a-zA-Z_:][\w:]*)(?:\{([^}]*)\})? (\S+)(?: # (.*))?$/;

function parseSample(line: string): Sample {
  const match = SAMPLE.exec(line);
  if (!match) throw new Error(`not a sample line: ${line}`);
  const labels: Record<string, string> = {};
  for (const [, key, value] of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
    labels[key ?? ''] = value ?? '';
  }
  return { name: match[1] ?? '', labels, value: match[3] ?? '', exemplar: match[4] };
}

/** The samples called `name` whose labels include `labels` (label order does not matter). */
function find(body: string, name: string, labels: Record<string, string> = {}): Sample[] {
  return samples(body)
    .map(parseSample)
    .filter(
      (s) => s.name === name && Object.entries(labels).every(([key, value]) => s.labels[key] === value),
    );
}

describe('createMetrics', () => {
  it('when created, then the RED histograms and the syslog drop counter are registered', async () => {
    const m = createMetrics('svc');
    expect(m.registry.getSingleMetric('http_server_request_duration_seconds')).toBe(m.httpServerDuration);
    expect(m.registry.getSingleMetric('http_client_request_duration_seconds')).toBe(m.httpClientDuration);
    expect(m.registry.getSingleMetric('log_syslog_dropped_total')).toBe(m.syslogDropped);
    const { body } = await render(m.registry, undefined);
    expect(body).toContain('# TYPE http_server_request_duration_seconds histogram');
    expect(body).toContain('log_syslog_dropped_total{service="svc"} 0');
  });

  it('when created, then the default process metrics are collected', async () => {
    const { body } = await render(createMetrics('svc').registry, undefined);
    expect(body).toMatch(/^process_cpu_user_seconds_total\{service="svc"\} \d/m);
    expect(body).toMatch(/^nodejs_heap_size_used_bytes\{service="svc"\} \d/m);
  });

  it('when two services each create metrics, then their registries are separate', async () => {
    const a = createMetrics('a');
    const b = createMetrics('b');
    a.syslogDropped.inc(3);
    expect((await render(a.registry, undefined)).body).toContain('log_syslog_dropped_total{service="a"} 3');
    expect((await render(b.registry, undefined)).body).toContain('log_syslog_dropped_total{service="b"} 0');
  });

  it('when a request is observed, then its histogram uses the shared duration buckets', async () => {
    const m = createMetrics('svc');
    m.httpServerDuration.observe({ labels: { method: 'GET', route: '/x', status_code: '200' }, value: 0.3 });
    const { body } = await render(m.registry, undefined);
    const buckets = find(body, 'http_server_request_duration_seconds_bucket');
    expect(buckets.map((s) => s.labels.le)).toEqual([...DURATION_BUCKETS.map(String), '+Inf']);
    expect(buckets.map((s) => s.value)).toEqual(['0', '0', '0', '0', '0', '0', '1', '1', '1', '1', '1', '1']);
    expect(buckets[0]?.labels).toEqual({
      le: '0.005',
      method: 'GET',
      route: '/x',
      status_code: '200',
      service: 'svc',
    });
  });

  it('when series are rendered in either format, then every series carries service="svc"', async () => {
    const m = createMetrics('svc');
    m.httpServerDuration.observe({ labels: { method: 'GET', route: '/x', status_code: '200' }, value: 0.01 });
    m.httpClientDuration.observe({
      labels: { peer_service: 'up', method: 'GET', status_code: '200' },
      value: 0.01,
    });
    m.syslogDropped.inc();
    for (const accept of [undefined, OM_ACCEPT]) {
      const lines = samples((await render(m.registry, accept)).body);
      expect(lines.length).toBeGreaterThan(30);
      const without = lines.filter((line) => parseSample(line).labels.service !== 'svc');
      expect(without, `format ${accept ?? 'text'}`).toEqual([]);
    }
  });
});

describe('exemplarFor', () => {
  it('when there is a trace ID, then it gives a trace_id label', () => {
    expect(exemplarFor(TRACE_ID)).toEqual({ trace_id: TRACE_ID });
  });

  it.each([null, undefined, ''])('when the trace ID is %j, then it gives undefined, not {}', (id) => {
    expect(exemplarFor(id)).toBeUndefined();
  });
});

describe('render', () => {
  it('when the scraper asks for OpenMetrics, then it gets OpenMetrics with # EOF and trace_id exemplars', async () => {
    const m = createMetrics('svc');
    m.httpServerDuration.observe({
      labels: { method: 'GET', route: '/items/:id', status_code: '200' },
      value: 0.02,
      exemplarLabels: exemplarFor(TRACE_ID),
    });
    const out = await render(m.registry, OM_ACCEPT);
    expect(out.contentType).toBe(Registry.OPENMETRICS_CONTENT_TYPE);
    expect(out.contentType).toMatch(/^application\/openmetrics-text; version=1\.0\.0/);
    expect(out.body.endsWith('\n# EOF\n')).toBe(true);
    const withExemplar = find(out.body, 'http_server_request_duration_seconds_bucket').filter(
      (s) => s.exemplar !== undefined,
    );
    expect(withExemplar).toHaveLength(1);
    expect(withExemplar[0]?.labels).toMatchObject({ le: '0.025', route: '/items/:id', service: 'svc' });
    expect(withExemplar[0]?.value).toBe('1');
    expect(withExemplar[0]?.exemplar).toMatch(
      new RegExp(`^\\{trace_id="${TRACE_ID}"\\} 0\\.02 \\d+(\\.\\d+)?$`),
    );
  });

  it('when the scraper sends a list of types that includes OpenMetrics, then it gets OpenMetrics', async () => {
    const out = await render(
      createMetrics('svc').registry,
      'application/openmetrics-text;version=1.0.0;q=0.9,text/plain;version=0.0.4;q=0.5,*/*;q=0.1',
    );
    expect(out.contentType).toBe(Registry.OPENMETRICS_CONTENT_TYPE);
    expect(out.body).toContain('# EOF');
  });

  it.each([
    ['no Accept header', undefined],
    ['text/plain', 'text/plain;version=0.0.4'],
    ['*/*', '*/*'],
  ])(
    'when the scraper sends %s, then it gets classic text without exemplars or # EOF',
    async (_what, accept) => {
      const m = createMetrics('svc');
      m.httpServerDuration.observe({
        labels: { method: 'GET', route: '/items/:id', status_code: '200' },
        value: 0.02,
        exemplarLabels: exemplarFor(TRACE_ID),
      });
      const out = await render(m.registry, accept);
      expect(out.contentType).toBe(Registry.PROMETHEUS_CONTENT_TYPE);
      expect(out.contentType).toMatch(/^text\/plain/);
      expect(out.body).not.toContain('# {');
      expect(out.body).not.toContain('# EOF');
      const bucket = find(out.body, 'http_server_request_duration_seconds_bucket', { le: '0.025' });
      expect(bucket).toHaveLength(1);
      expect(bucket[0]?.labels).toMatchObject({ route: '/items/:id', service: 'svc' });
      expect(bucket[0]?.value).toBe('1');
      expect(bucket[0]?.exemplar).toBeUndefined();
    },
  );

  it('when an observation has no trace, then OpenMetrics prints no empty exemplar', async () => {
    const m = createMetrics('svc');
    m.httpServerDuration.observe({
      labels: { method: 'GET', route: '/x', status_code: '200' },
      value: 0.02,
      exemplarLabels: exemplarFor(null),
    });
    m.httpClientDuration.observe({
      labels: { peer_service: 'up', method: 'GET', status_code: 'timeout' },
      value: 3,
      exemplarLabels: exemplarFor(undefined),
    });
    const { body } = await render(m.registry, OM_ACCEPT);
    expect(find(body, 'http_server_request_duration_seconds_count', { route: '/x' })[0]?.value).toBe('1');
    expect(
      find(body, 'http_client_request_duration_seconds_count', { status_code: 'timeout' })[0]?.value,
    ).toBe('1');
    expect(body).not.toContain('# {}');
    expect(body).not.toContain('# {');
  });

  it('when the registry is left alone, then it stays an OpenMetrics registry after a classic render', async () => {
    const m = createMetrics('svc');
    await render(m.registry, undefined);
    expect(m.registry.contentType).toBe(Registry.OPENMETRICS_CONTENT_TYPE);
  });

  // Regression: prom-client's OpenMetrics render strips `_total` from counter names in place.
  it('when a classic-text scrape follows an OpenMetrics one, then counters keep their _total suffix', async () => {
    const m = createMetrics('svc');
    const foo = new Counter({ name: 'foo_total', help: 'x', registers: [m.registry] });
    foo.inc();
    m.syslogDropped.inc(2);

    const om = await render(m.registry, OM_ACCEPT);
    expect(om.body).toContain('# TYPE foo counter');
    expect(om.body).toMatch(/^foo_total\{service="svc"\} 1$/m);

    const text = await render(m.registry, undefined);
    expect(text.body).toContain('# TYPE foo_total counter');
    expect(text.body).toMatch(/^foo_total\{service="svc"\} 1$/m);
    expect(text.body).toMatch(/^log_syslog_dropped_total\{service="svc"\} 2$/m);
    expect(text.body).toMatch(/^process_cpu_user_seconds_total\{service="svc"\} /m);
    expect(text.body).not.toMatch(/^foo\{/m);

    // And back again: OpenMetrics still adds _total exactly once.
    const omAgain = await render(m.registry, OM_ACCEPT);
    expect(omAgain.body).toMatch(/^foo_total\{service="svc"\} 1$/m);
    expect(omAgain.body).not.toContain('foo_total_total');
  });

  it('when a counter is registered after an OpenMetrics render, then classic text still names it with _total', async () => {
    const m = createMetrics('svc');
    await render(m.registry, OM_ACCEPT);
    const late = new Counter({ name: 'late_total', help: 'x', registers: [m.registry] });
    late.inc(4);
    await render(m.registry, OM_ACCEPT);
    expect((await render(m.registry, undefined)).body).toMatch(/^late_total\{service="svc"\} 4$/m);
  });

  it('when scrapes with different Accept headers run concurrently, then each gets its own format', async () => {
    const m = createMetrics('svc');
    new Counter({ name: 'foo_total', help: 'x', registers: [m.registry] }).inc();
    m.httpServerDuration.observe({
      labels: { method: 'GET', route: '/x', status_code: '200' },
      value: 0.02,
      exemplarLabels: exemplarFor(TRACE_ID),
    });
    const accepts = [
      OM_ACCEPT,
      undefined,
      OM_ACCEPT,
      'text/plain',
      undefined,
      OM_ACCEPT,
      undefined,
      OM_ACCEPT,
    ];
    const outs = await Promise.all(accepts.map((accept) => render(m.registry, accept)));
    outs.forEach((out, i) => {
      const om = accepts[i] === OM_ACCEPT;
      expect(out.contentType, `scrape ${i}`).toBe(
        om ? Registry.OPENMETRICS_CONTENT_TYPE : Registry.PROMETHEUS_CONTENT_TYPE,
      );
      expect(out.body.includes('# EOF'), `scrape ${i}`).toBe(om);
      expect(out.body.includes(`# {trace_id="${TRACE_ID}"}`), `scrape ${i}`).toBe(om);
      expect(out.body, `scrape ${i}`).toContain(om ? '# TYPE foo counter' : '# TYPE foo_total counter');
      expect(out.body, `scrape ${i}`).toMatch(/^foo_total\{service="svc"\} 1$/m);
    });
  });

  it('when two registries are scraped concurrently, then each keeps its own format', async () => {
    const a = createMetrics('a');
    const b = createMetrics('b');
    const [outA, outB] = await Promise.all([render(a.registry, OM_ACCEPT), render(b.registry, undefined)]);
    expect(outA.body).toContain('# EOF');
    expect(outA.body).toContain('service="a"');
    expect(outB.body).not.toContain('# EOF');
    expect(outB.body).toContain('service="b"');
  });
});
