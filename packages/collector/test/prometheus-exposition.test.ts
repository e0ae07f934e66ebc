import { metricPoints, encodeMetricsRequest, type MetricPoint } from '@vigil/platform';
import { describe, expect, it } from 'vitest';
import { ExpositionError, parseExposition, parseValue } from '../src/plugins/prometheus/exposition.js';
import { StartTimes, bucketsToOtlp, toMetricsRequest } from '../src/plugins/prometheus/otlp.js';
import { targetResource } from '../src/plugins/prometheus/index.js';

const EXPOSITION = `# HELP http_requests_total The total number of HTTP requests.
# TYPE http_requests_total counter
http_requests_total{method="post",code="200"} 1027 1395066363000
http_requests_total{method="post",code="400"}    3 1395066363000

# Escaping in label values:
msdos_file_access_time_seconds{path="C:\\\\DIR\\\\FILE.TXT",error="Cannot find file:\\n\\"FILE.TXT\\""} 1.458255915e9

# Minimalistic line:
metric_without_timestamp_and_labels 12.47

# A weird metric from before the epoch:
something_weird{problem="division by zero"} +Inf -3982045

# A histogram, which has a pretty complex representation in the text format:
# HELP http_request_duration_seconds A histogram of the request duration.
# TYPE http_request_duration_seconds histogram
http_request_duration_seconds_bucket{le="0.05"} 24054
http_request_duration_seconds_bucket{le="0.1"} 33444
http_request_duration_seconds_bucket{le="0.2"} 100392
http_request_duration_seconds_bucket{le="0.5"} 129389
http_request_duration_seconds_bucket{le="1"} 133988
http_request_duration_seconds_bucket{le="+Inf"} 144320
http_request_duration_seconds_sum 53423
http_request_duration_seconds_count 144320

# Finally a summary, which has a complex representation, too:
# HELP rpc_duration_seconds A summary of the RPC duration in seconds.
# TYPE rpc_duration_seconds summary
rpc_duration_seconds{quantile="0.01"} 3102
rpc_duration_seconds{quantile="0.05"} 3272
rpc_duration_seconds{quantile="0.5"} 4773
rpc_duration_seconds{quantile="0.9"} 9001
rpc_duration_seconds{quantile="0.99"} 76656
rpc_duration_seconds_sum 1.7560473e+07
rpc_duration_seconds_count 2693
# HELP temperature_celsius Room temperature.\\nSecond line with a \\\\ backslash.
# TYPE temperature_celsius gauge
temperature_celsius{room="a"} -3.5
temperature_celsius{room="b"} NaN
`;

describe('Prometheus text exposition parser', () => {
  it('parses the reference example of the format documentation into families', () => {
    const fams = parseExposition(EXPOSITION);
    expect(fams.map((f) => [f.name, f.type, f.samples.length])).toEqual([
      ['http_requests_total', 'counter', 2],
      ['msdos_file_access_time_seconds', 'untyped', 1],
      ['metric_without_timestamp_and_labels', 'untyped', 1],
      ['something_weird', 'untyped', 1],
      ['http_request_duration_seconds', 'histogram', 8],
      ['rpc_duration_seconds', 'summary', 7],
      ['temperature_celsius', 'gauge', 2],
    ]);
    const [reqs, msdos, , weird, , , temp] = fams;
    expect(reqs!.help).toBe('The total number of HTTP requests.');
    expect(reqs!.samples[0]).toEqual({ name: 'http_requests_total', labels: { method: 'post', code: '200' }, value: 1027, timestampMs: 1395066363000 });
    expect(msdos!.samples[0]!.labels).toEqual({ path: 'C:\\DIR\\FILE.TXT', error: 'Cannot find file:\n"FILE.TXT"' });
    expect(msdos!.samples[0]!.value).toBe(1458255915);
    expect(weird!.samples[0]).toEqual({ name: 'something_weird', labels: { problem: 'division by zero' }, value: Infinity, timestampMs: -3982045 });
    expect(temp!.help).toBe('Room temperature.\nSecond line with a \\ backslash.');
    expect(temp!.samples[1]!.value).toBeNaN();
  });

  it('puts `x_total` samples in a counter declared as `x`, and `_created` in its family', () => {
    const fams = parseExposition('# TYPE jobs counter\njobs_total{q="a"} 5\njobs_created{q="a"} 1700000000\n# TYPE up gauge\nup 1\nup_total 3\n');
    expect(fams.map((f) => [f.name, f.type, f.samples.map((s) => s.name)])).toEqual([
      ['jobs', 'counter', ['jobs_total', 'jobs_created']],
      ['up', 'gauge', ['up']],
      ['up_total', 'untyped', ['up_total']],
    ]);
  });

  it('reads values as Go ParseFloat does', () => {
    expect([parseValue('1'), parseValue('-1.5e3'), parseValue('.5'), parseValue('+Inf'), parseValue('-inf'), parseValue('Inf'), parseValue('0x1F')]).toEqual([1, -1500, 0.5, Infinity, -Infinity, Infinity, 31]);
    expect(parseValue('NaN')).toBeNaN();
    expect(parseValue('abc')).toBeUndefined();
    expect(parseValue('1,5')).toBeUndefined();
    expect(parseValue('')).toBeUndefined();
  });

  it('accepts spaces inside label sets, a trailing comma, CRLF line ends, empty label sets and OpenMetrics types and # EOF', () => {
    const fams = parseExposition('# TYPE a unknown\r\na { x = "1" , y="2", } 3\r\nb{} 4\n# TYPE c info\nc_info{v="1"} 1\n# EOF\n');
    expect(fams.map((f) => [f.name, f.type, f.samples[0]!.labels, f.samples[0]!.value])).toEqual([
      ['a', 'untyped', { x: '1', y: '2' }, 3],
      ['b', 'untyped', {}, 4],
      ['c_info', 'untyped', { v: '1' }, 1],
    ]);
  });

  it.each([
    ['a{x="1} 2', /line 1: unterminated value of label x/],
    ['a{x=1} 2', /line 1: expected a quoted value for label x/],
    ['a{x="1",x="2"} 2', /line 1: label x appears twice/],
    ['a{x="\\q"} 2', /line 1: invalid escape/],
    ['a{1x="1"} 2', /line 1: expected a label name/],
    ['ok 1\na', /line 2: sample a has no value/],
    ['a one', /line 1: sample a: "one" is not a number/],
    ['a 1 2.5', /line 1: sample a: timestamp "2.5" is not an integer/],
    ['a 1 2 3', /unexpected text after the timestamp/],
    ['# TYPE a lemon', /line 1: "lemon" is not a metric type/],
    ['# TYPE a gauge\n# TYPE a counter', /line 2: metric a is declared gauge and counter/],
    ['a 1\n# TYPE a gauge', /line 2: TYPE of a comes after its samples/],
    ['{x="1"} 2', /line 1: expected a metric name/],
  ])('rejects %j', (text, message) => {
    expect(() => parseExposition(text)).toThrow(ExpositionError);
    expect(() => parseExposition(text)).toThrow(message);
  });

  it('ignores comments, blank lines and families with HELP but no samples', () => {
    expect(parseExposition('# just a comment\n\n# HELP lonely nothing here\n')).toEqual([]);
  });
});

describe('Prometheus families as OTLP', () => {
  const SCRAPE = 1_700_000_000_000;
  const resource = { 'host.name': 'h1', 'service.name': 'vigil-collector', 'host.cpu.count': 2 };
  const convert = (text: string, starts = new StartTimes(), scrapeMs = SCRAPE) =>
    metricPoints(encodeMetricsRequest(toMetricsRequest(parseExposition(text), resource, { name: 'vigil.collector.prometheus', version: '1' }, { scrapeMs, starts }, { up: true, durationMs: 12, samples: 3 })));
  const byName = (points: MetricPoint[], name: string) => points.filter((p) => p.name === name);

  it('round-trips the reference example through protobuf: sums, gauges, histograms, summaries', () => {
    const points = convert(EXPOSITION);
    const reqs = byName(points, 'http_requests_total');
    expect(reqs).toHaveLength(2);
    expect(reqs[0]).toMatchObject({ kind: 'sum', monotonic: true, temporality: 2, value: 1027, attributes: { method: 'post', code: '200' }, timeUnixNano: '1395066363000000000', startTimeUnixNano: `${SCRAPE}000000`, description: 'The total number of HTTP requests.' });
    expect(reqs[0]!.resource.attributes).toEqual({ 'host.name': 'h1', 'service.name': 'vigil-collector', 'host.cpu.count': '2' });
    expect(reqs[0]!.scope.name).toBe('vigil.collector.prometheus');

    const [h] = byName(points, 'http_request_duration_seconds');
    expect(h).toMatchObject({
      kind: 'histogram',
      temporality: 2,
      count: 144320,
      sum: 53423,
      explicitBounds: [0.05, 0.1, 0.2, 0.5, 1],
      bucketCounts: [24054, 33444 - 24054, 100392 - 33444, 129389 - 100392, 133988 - 129389, 144320 - 133988],
      timeUnixNano: `${SCRAPE}000000`,
    });
    const [s] = byName(points, 'rpc_duration_seconds');
    expect(s).toMatchObject({ kind: 'summary', count: 2693, sum: 17560473 });
    expect(s!.kind === 'summary' && s!.quantiles).toEqual([
      { quantile: 0.01, value: 3102 },
      { quantile: 0.05, value: 3272 },
      { quantile: 0.5, value: 4773 },
      { quantile: 0.9, value: 9001 },
      { quantile: 0.99, value: 76656 },
    ]);
    const temp = byName(points, 'temperature_celsius');
    expect(temp.map((p) => p.kind)).toEqual(['gauge', 'gauge']);
    expect(temp[0]).toMatchObject({ value: -3.5, attributes: { room: 'a' } });
    // Its timestamp is before 1970, which OTLP (unsigned nanoseconds) cannot carry: it gets the scrape's time.
    expect(byName(points, 'something_weird')[0]).toMatchObject({ kind: 'gauge', value: Infinity });
    expect(BigInt(byName(points, 'something_weird')[0]!.timeUnixNano)).toBeGreaterThan(0n);
    expect(byName(points, 'msdos_file_access_time_seconds')[0]!.attributes.error).toBe('Cannot find file:\n"FILE.TXT"');
    expect(byName(points, 'vigil.scrape.up')[0]).toMatchObject({ kind: 'gauge', value: 1 });
    expect(byName(points, 'vigil.scrape.duration')[0]).toMatchObject({ kind: 'gauge', value: 0.012, unit: 's' });
    expect(byName(points, 'vigil.scrape.samples')[0]).toMatchObject({ value: 3 });
  });

  it('keeps several histogram series apart by their labels', () => {
    const text = '# TYPE d histogram\nd_bucket{path="/a",le="1"} 1\nd_bucket{path="/b",le="1"} 5\nd_bucket{path="/a",le="+Inf"} 2\nd_bucket{path="/b",le="+Inf"} 9\nd_sum{path="/a"} 1.5\nd_count{path="/a"} 2\nd_sum{path="/b"} 20\nd_count{path="/b"} 9\n';
    const points = byName(convert(text), 'd');
    expect(points.map((p) => p.kind === 'histogram' && [p.attributes.path, p.count, p.sum, p.bucketCounts])).toEqual([
      ['/a', 2, 1.5, [1, 1]],
      ['/b', 9, 20, [5, 4]],
    ]);
  });

  it('turns cumulative le buckets into per-bucket counts, unsorted or without +Inf', () => {
    expect(bucketsToOtlp([{ le: 1, count: 3 }, { le: 0.5, count: 1 }, { le: Infinity, count: 4 }])).toEqual({ explicitBounds: [0.5, 1], bucketCounts: [1, 2, 1], count: 4 });
    expect(bucketsToOtlp([{ le: 1, count: 3 }], 5)).toEqual({ explicitBounds: [1], bucketCounts: [3, 2], count: 5 });
    expect(bucketsToOtlp([], 0)).toEqual({ explicitBounds: [], bucketCounts: [0], count: 0 });
  });

  it('names a counter by its samples and takes `_created` as its start', () => {
    const points = convert('# TYPE jobs counter\njobs_total{q="a"} 5\njobs_created{q="a"} 1600000000.5\n');
    expect(points.filter((p) => p.name.startsWith('jobs')).map((p) => [p.name, p.kind, p.startTimeUnixNano])).toEqual([['jobs_total', 'sum', '1600000000500000000']]);
  });

  it('keeps a start time per series across scrapes and moves it when a counter resets', () => {
    const starts = new StartTimes();
    const start = (text: string, at: number) => byName(convert(text, starts, at), 'c_total')[0]!.startTimeUnixNano;
    expect(start('# TYPE c_total counter\nc_total 10\n', SCRAPE)).toBe(`${SCRAPE}000000`);
    expect(start('# TYPE c_total counter\nc_total 15\n', SCRAPE + 15_000)).toBe(`${SCRAPE}000000`);
    expect(start('# TYPE c_total counter\nc_total 2\n', SCRAPE + 30_000)).toBe(`${SCRAPE + 30_000}000000`);
    starts.prune(SCRAPE + 45_000);
    expect(starts.size).toBe(0);
  });

  it("gives a target's metrics the collector's resource plus the target's identity, job and labels", () => {
    expect(targetResource({ 'host.name': 'h1', 'service.name': 'vigil-collector' }, { url: 'http://10.0.0.5:9100/metrics', labels: {} })).toEqual({
      'host.name': 'h1',
      'service.name': 'vigil-collector',
      'service.instance.id': '10.0.0.5:9100',
      'server.address': '10.0.0.5',
      'server.port': 9100,
      'url.scheme': 'http',
    });
    expect(targetResource({ 'service.name': 'vigil-collector' }, { url: 'https://api.example.com/metrics', job: 'api', labels: { env: 'prod' } })).toMatchObject({
      'service.name': 'api',
      'service.instance.id': 'api.example.com:443',
      env: 'prod',
    });
  });
});
