import { describe, expect, it } from 'vitest';
import {
  databaseFindings,
  dependencyFindings,
  hostStatus,
  levelOf,
  resourceFindings,
  resourcesFromReadings,
  statusOf,
  THRESHOLDS,
  type LatestReading,
} from '../src/assessment.js';
import { openApiDocument, openApiPath } from '../src/openapi.js';
import { ParameterError, decodeCursor, encodeCursor, planWindow } from '../src/parameters.js';
import { entitiesFromRows } from '../src/routes/entities.js';
import { explainEngineError, DEFAULT_SQL_LIMITS } from '../src/routes/sql.js';
import { statsFromRows } from '../src/routes/summary.js';
import { seriesSource } from '../src/routes/series.js';
import { checkSqlText, checkTables, skeleton, tablesOfQueryTree } from '../src/sql-check.js';

/** The dashboard APIs' logic without a server: health judgement, OpenAPI, SQL checks, cursors, row shaping. */

const NOW = Date.UTC(2025, 10, 22, 12);

function error(fn: () => unknown): ParameterError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ParameterError) return err;
    throw err;
  }
  throw new Error('expected a ParameterError');
}

describe('health assessment (MISSION B thresholds)', () => {
  it.each([
    [0.69, THRESHOLDS.cpu, undefined],
    [0.7, THRESHOLDS.cpu, 'warning'],
    [0.9, THRESHOLDS.cpu, 'critical'],
    [0.79, THRESHOLDS.disk, undefined],
    [0.8, THRESHOLDS.disk, 'warning'],
    [499, THRESHOLDS.databaseMs, undefined],
    [500, THRESHOLDS.databaseMs, 'warning'],
    [1000, THRESHOLDS.databaseMs, 'critical'],
    [Number.NaN, THRESHOLDS.cpu, undefined],
    [null, THRESHOLDS.cpu, undefined],
  ])('%s against %j is %s', (v, t, level) => {
    expect(levelOf(v, t)).toBe(level);
  });

  it('sums every non-idle cpu mode, takes used memory, and pairs each disk with its free bytes', () => {
    const r = (name: string, attributes: Record<string, string>, value: number, at = NOW): LatestReading => ({ host: 'h', name, attributes, value, at });
    const [h] = resourcesFromReadings([
      r('system.cpu.utilization', { 'cpu.mode': 'user' }, 0.5),
      r('system.cpu.utilization', { 'cpu.mode': 'system' }, 0.2),
      r('system.cpu.utilization', { 'cpu.mode': 'idle' }, 0.3),
      r('system.memory.utilization', { 'system.memory.state': 'free' }, 0.4),
      r('system.memory.utilization', { 'system.memory.state': 'used' }, 0.6, NOW - 5),
      r('system.filesystem.utilization', { 'system.filesystem.mountpoint': '/data' }, 0.93),
      r('system.filesystem.usage', { 'system.filesystem.mountpoint': '/data', 'system.filesystem.state': 'free' }, 7e9),
      r('system.filesystem.usage', { 'system.filesystem.mountpoint': '/data', 'system.filesystem.state': 'used' }, 93e9),
      r('system.cpu.load_average.1m', {}, 2.5),
    ]);
    expect(h!.cpu).toBeCloseTo(0.7, 10);
    expect(h).toMatchObject({ host: 'h', lastSeen: NOW, memory: 0.6, load1: 2.5, disks: [{ mountpoint: '/data', utilization: 0.93, freeBytes: 7e9 }] });
    const findings = resourceFindings([h!]);
    expect(findings.map((f) => [f.check, f.level, f.subject])).toEqual([
      ['cpu', 'warning', 'h'],
      ['disk', 'critical', 'h:/data'],
    ]);
    expect(findings[1]!.message).toBe('disk /data used on h at 93.0 % (critical at 90.0 %)');
  });

  it('a database that does not answer is critical at once; slow is a warning, then critical', () => {
    expect(databaseFindings({ reachable: false, responseMs: 3 })[0]).toMatchObject({ level: 'critical', check: 'database' });
    expect(databaseFindings({ reachable: true, responseMs: 20 })).toEqual([]);
    expect(databaseFindings({ reachable: true, responseMs: 650 })[0]!.message).toBe('ClickHouse answered in 650 ms (warning at 500 ms)');
    expect(databaseFindings({ reachable: true, responseMs: 1200 })[0]!.level).toBe('critical');
  });

  it('dependencies: down is critical, degraded or starting a warning, up nothing', () => {
    const f = dependencyFindings({ bus: { status: 'up' }, kafka: { status: 'down', detail: 'no broker' }, ingest: { status: 'degraded' } });
    expect(f.map((x) => [x.subject, x.level, x.message])).toEqual([
      ['kafka', 'critical', 'kafka is down: no broker'],
      ['ingest', 'warning', 'ingest is degraded'],
    ]);
  });

  it('the overall status is the worst finding', () => {
    expect(statusOf([])).toBe('healthy');
    expect(statusOf(dependencyFindings({ a: { status: 'degraded' } }))).toBe('degraded');
    expect(statusOf([...dependencyFindings({ a: { status: 'degraded' } }), ...databaseFindings({ reachable: false, responseMs: 0 })])).toBe('unhealthy');
  });

  it('a host is stale after three minutes without a reading', () => {
    expect(hostStatus(NOW - 180_000, NOW)).toBe('up');
    expect(hostStatus(NOW - 180_001, NOW)).toBe('stale');
  });
});

describe('openApiDocument', () => {
  it('turns route schemas into paths, parameters, bodies, responses and security by scope', () => {
    const doc = openApiDocument(
      [
        {
          method: 'GET',
          url: '/api/v1/things/:id',
          scope: 'read',
          schema: {
            description: 'one thing',
            params: { type: 'object', properties: { id: { type: 'string', description: 'its id' } }, required: ['id'] },
            querystring: { type: 'object', properties: { limit: { type: 'integer', default: 10 }, q: { type: 'string' } }, required: ['limit'] },
            response: { 200: { type: 'object', properties: { ok: { type: 'boolean' } } } },
          },
        },
        { method: 'HEAD', url: '/api/v1/things/:id', scope: 'read' },
        { method: 'POST', url: '/api/v1/things', scope: 'write', schema: { body: { type: 'object', properties: { name: { type: 'string' } } } } },
        { method: 'GET', url: '/health', scope: 'public' },
        { method: 'GET', url: '/hidden', scope: 'public', schema: { hide: true } },
      ],
      { title: 't', version: '1' },
    );
    expect(Object.keys(doc.paths)).toEqual(['/api/v1/things', '/api/v1/things/{id}', '/health']);
    const get = doc.paths['/api/v1/things/{id}']!.get as any;
    expect(get.parameters).toEqual([
      { name: 'id', in: 'path', required: true, description: 'its id', schema: { type: 'string' } },
      { name: 'limit', in: 'query', required: false, schema: { type: 'integer', default: 10 } },
      { name: 'q', in: 'query', required: false, schema: { type: 'string' } },
    ]);
    expect(Object.keys(get.responses)).toEqual(['200', '401', '403']);
    expect(get.security).toEqual([{ bearer: [] }]);
    expect(get.description).toBe('one thing Needs a token with the read scope once any token is configured.');
    expect((doc.paths['/api/v1/things']!.post as any).requestBody.content['application/json'].schema).toEqual({ type: 'object', properties: { name: { type: 'string' } } });
    expect((doc.paths['/health']!.get as any).security).toEqual([]);
    expect(openApiPath('/a/:x/b/:y_z')).toBe('/a/{x}/b/{y_z}');
  });
});

describe('cursors and windows', () => {
  it('round-trips a cursor and refuses anything else, naming cursor', () => {
    const c = { ns: 1_763_780_000_123_456_789n, hash: 18_446_744_073_709_551_615n };
    expect(decodeCursor(encodeCursor(c))).toEqual(c);
    for (const bad of ['', 'abc', '!!!', Buffer.from('1.2.3').toString('base64url'), Buffer.from('-1.2').toString('base64url'), Buffer.from('1.18446744073709551616').toString('base64url'), 'x'.repeat(81)]) {
      expect(error(() => decodeCursor(bad)).parameter).toBe('cursor');
    }
  });

  it('takes from/to, else since back from to, else the default', () => {
    expect(planWindow({}, 3_600_000, NOW)).toEqual({ fromMs: NOW - 3_600_000, toMs: NOW });
    expect(planWindow({ since: '5m' }, 3_600_000, NOW)).toEqual({ fromMs: NOW - 300_000, toMs: NOW });
    expect(planWindow({ from: String(NOW - 10), since: '5m' }, 1, NOW)).toEqual({ fromMs: NOW - 10, toMs: NOW });
    expect(planWindow({ to: String(NOW - 1000), since: '1s' }, 1, NOW)).toEqual({ fromMs: NOW - 2000, toMs: NOW - 1000 });
    expect(error(() => planWindow({ from: String(NOW), to: String(NOW) }, 1, NOW)).parameter).toBe('from');
    expect(error(() => planWindow({ to: 'later' }, 1, NOW)).parameter).toBe('to');
  });
});

describe('SQL checks', () => {
  it('keeps one read statement, dropping a trailing semicolon', () => {
    expect(checkSqlText('  SELECT 1;  ')).toBe('SELECT 1');
    expect(checkSqlText('with x as (select 1) select * from x')).toBe('with x as (select 1) select * from x');
    expect(checkSqlText("SELECT ';' AS semi -- a; comment\n")).toBe("SELECT ';' AS semi -- a; comment");
    expect(checkSqlText('(SELECT 1)')).toBe('(SELECT 1)');
  });

  it.each([
    ['', 'query: is empty'],
    ['-- only a comment', 'query: is empty'],
    ['SELECT 1; SELECT 2', 'query: holds more than one statement'],
    ['INSERT INTO t VALUES (1)', 'query: starts with "INSERT"'],
    ['/* hi */ SYSTEM SHUTDOWN', 'query: starts with "SYSTEM"'],
    ['ALTER TABLE t DELETE WHERE 1', 'query: starts with "ALTER"'],
    ["SELECT 1 INTO OUTFILE '/tmp/x'", 'query: writes a file'],
    ['x'.repeat(100_001), 'query: is 100001 characters'],
  ])('refuses %j', (sql, start) => {
    expect(error(() => checkSqlText(sql)).message.startsWith(start)).toBe(true);
  });

  it('blanks strings and comments for keyword checks', () => {
    expect(skeleton("SELECT 'a;b', \"c;d\" /* ; */ -- ;\n FROM t")).toBe(`SELECT '', ""    \n FROM t`);
  });

  it("reads table names from EXPLAIN QUERY TREE and allows only Vigil's database", () => {
    const tree = `QUERY id: 0
  JOIN TREE
    TABLE id: 3, alias: __table1, table_name: vigil.otel_logs
    QUERY id: 4
      JOIN TREE
        TABLE id: 7, alias: __table2, table_name: system.one
        TABLE_FUNCTION id: 9, alias: __table3, table_function_name: numbers`;
    const refs = tablesOfQueryTree(tree);
    expect(refs).toEqual([
      { kind: 'table', name: 'vigil.otel_logs' },
      { kind: 'table', name: 'system.one' },
      { kind: 'function', name: 'numbers' },
    ]);
    expect(() => checkTables(refs, 'vigil')).not.toThrow();
    expect(error(() => checkTables([{ kind: 'table', name: 'system.users' }], 'vigil')).message).toBe("query: reads system.users: only Vigil's tables (vigil.*) can be read here");
    expect(error(() => checkTables([{ kind: 'table', name: 'vigil_other.t' }], 'vigil')).parameter).toBe('query');
    expect(error(() => checkTables([{ kind: 'function', name: 'remote' }], 'vigil')).message).toMatch(/^query: uses the table function remote\(\)/);
  });

  it('turns engine errors into what to do', () => {
    const l = DEFAULT_SQL_LIMITS;
    expect(explainEngineError('Code: 159. DB::Exception: Timeout exceeded: elapsed 10.1 s. (TIMEOUT_EXCEEDED)', l)).toMatch(/^the query ran longer than 10 s and was stopped/);
    expect(explainEngineError('Code: 396. DB::Exception: Limit for result exceeded, max rows: 10.00 thousand. (TOO_MANY_ROWS_OR_BYTES)', l)).toMatch(/^the result is larger than 10000 rows/);
    expect(explainEngineError("Code: 60. DB::Exception: Unknown table expression identifier 'otel_logs'. (UNKNOWN_TABLE)", l)).toMatch(/; name tables with their database, e\.g\. vigil\.otel_logs$/);
  });
});

describe('seriesSource', () => {
  it.each([
    [1_000, 'raw'],
    [15_000, 'raw'],
    [90_000, 'raw'],
    [60_000, '1m'],
    [300_000, '1m'],
    [5_400_000, '1m'],
    [3_600_000, '1h'],
    [86_400_000, '1h'],
  ])('a %d ms step reads %s', (step, source) => {
    expect(seriesSource(step)).toBe(source);
  });
});

describe('row shaping', () => {
  it('entities: one per kind, id and host, with counters, last activity and uptime', () => {
    const row = (counter: string, value: number, first = NOW - 600_000, last = NOW) => ({ kind: 'tunnel', id: 't1', host: 'h', counter, value, first, last });
    expect(entitiesFromRows([row('connections', 4), row('last_activity', NOW / 1000 - 30), row('received', 100, NOW - 60_000, NOW - 30_000)])).toEqual([
      {
        kind: 'tunnel',
        id: 't1',
        host: 'h',
        counters: { connections: 4, last_activity: NOW / 1000 - 30, received: 100 },
        firstSeen: new Date(NOW - 600_000).toISOString(),
        lastSeen: new Date(NOW).toISOString(),
        lastActivity: new Date(NOW - 30_000).toISOString(),
        uptimeSeconds: 600,
      },
    ]);
    expect(entitiesFromRows([row('uptime', 99)])[0]!.uptimeSeconds).toBe(99);
  });

  it('summary stats: per host, and for all weighted by buckets, rates summed', () => {
    const { all, hosts } = statsFromRows([
      { host: 'b', metric: 'cpu', avg: 0.5, max: '0.9', n: 3 },
      { host: 'c', metric: 'cpu', avg: 0.1, max: 0.2, n: 1 },
      { host: 'a', metric: 'net_rx', avg: 100, max: 100, n: 1 },
      { host: 'c', metric: 'net_rx', avg: 50, max: 50, n: 1 },
      { host: 'a', metric: 'memory', avg: null, max: null, n: 2 },
      { host: 'a', metric: 'unknown', avg: 1, max: 1, n: 1 },
    ]);
    expect(hosts.map((h) => h.host)).toEqual(['a', 'b', 'c']);
    expect(hosts[1]!.cpu).toEqual({ avg: 0.5, max: 0.9 });
    expect(hosts[0]!.networkReceiveBytesPerSecond).toBe(100);
    expect(hosts[0]!.cpu).toEqual({ avg: null, max: null });
    expect(all.cpu).toEqual({ avg: (0.5 * 3 + 0.1) / 4, max: 0.9 });
    expect(all.networkReceiveBytesPerSecond).toBe(150);
    expect(all.memory).toEqual({ avg: null, max: null });
    expect(all.diskWriteBytesPerSecond).toBeNull();
  });
});
