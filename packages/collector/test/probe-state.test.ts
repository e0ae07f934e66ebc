import { SeverityNumber } from '@opentelemetry/api';
import { ConfigError, checkSection } from '@vigil/platform';
import { describe, expect, it } from 'vitest';
import { STATE_SEVERITY, STATE_VALUE, httpVerdict, planProbes, probeKind, probePlugin, probeState, safeTarget, stateChanged, stateReason, tlsDaysLeft } from '../src/plugins/probe/index.js';

const T = { degradedMs: 500, unhealthyMs: 1000 };

describe('probe state', () => {
  it.each([
    [{ latencyMs: 0 }, 'healthy'],
    [{ latencyMs: 499.9 }, 'healthy'],
    [{ latencyMs: 500 }, 'degraded'],
    [{ latencyMs: 999 }, 'degraded'],
    [{ latencyMs: 1000 }, 'unhealthy'],
    [{ latencyMs: 3 , error: 'connection refused' }, 'unhealthy'],
  ])('%j is %s', (outcome, state) => {
    expect(probeState(outcome, T)).toBe(state);
  });

  it('says why, with the threshold crossed', () => {
    expect(stateReason({ latencyMs: 612.4 }, T)).toBe('answered in 612 ms (degraded from 500 ms)');
    expect(stateReason({ latencyMs: 1500 }, T)).toBe('answered in 1500 ms (unhealthy from 1000 ms)');
    expect(stateReason({ latencyMs: 12 }, T)).toBe('answered in 12 ms');
    expect(stateReason({ latencyMs: 2, error: 'connection refused' }, T)).toBe('connection refused');
  });

  it('reports the first state and every change, not repeats', () => {
    expect(stateChanged(undefined, 'healthy')).toBe(true);
    expect(stateChanged('healthy', 'healthy')).toBe(false);
    expect(stateChanged('healthy', 'degraded')).toBe(true);
    expect(STATE_VALUE).toEqual({ healthy: 0, degraded: 1, unhealthy: 2 });
    expect(STATE_SEVERITY).toEqual({ healthy: SeverityNumber.INFO, degraded: SeverityNumber.WARN, unhealthy: SeverityNumber.ERROR });
  });

  it('judges HTTP status and body', () => {
    expect(httpVerdict(200, undefined, [])).toBeUndefined();
    expect(httpVerdict(302, undefined, [])).toBeUndefined();
    expect(httpVerdict(404, undefined, [])).toBe('HTTP 404 (expected 2xx or 3xx)');
    expect(httpVerdict(404, undefined, [200, 404])).toBeUndefined();
    expect(httpVerdict(200, undefined, [204])).toBe('HTTP 200 (expected 204)');
    expect(httpVerdict(200, '{"status":"ok"}', [], /"status":"ok"/)).toBeUndefined();
    expect(httpVerdict(200, '{"status":"down"}', [], /"status":"ok"/)).toBe('the body does not match /"status":"ok"/');
  });

  it('counts whole days left on a certificate', () => {
    const now = Date.parse('2030-01-01T00:00:00Z');
    expect(tlsDaysLeft('Jan 31 00:00:00 2030 GMT', now)).toBe(30);
    expect(tlsDaysLeft('Jan 30 23:59:59 2030 GMT', now)).toBe(29);
    expect(tlsDaysLeft('Dec 31 00:00:00 2029 GMT', now)).toBe(-1);
    expect(tlsDaysLeft('not a date', now)).toBeUndefined();
  });

  it('knows the kind by scheme and strips credentials and queries from what it reports', () => {
    expect(['http://a', 'https://a', 'tcp://a:1', 'postgres://a', 'postgresql://a', 'redis://a', 'rediss://a', 'ftp://a', 'nonsense'].map(probeKind)).toEqual([
      'http', 'http', 'tcp', 'postgres', 'postgres', 'redis', 'redis', undefined, undefined,
    ]);
    expect(safeTarget('postgres://vigil:s3cret@db.local:5432/orders?sslmode=require')).toBe('postgres://db.local:5432/orders');
    expect(safeTarget('https://user:pw@api.example.com/health?token=abc')).toBe('https://api.example.com/health');
    expect(safeTarget('redis://:pw@cache:6379')).toBe('redis://cache:6379');
    expect(safeTarget('tcp://10.0.0.1:22')).toBe('tcp://10.0.0.1:22');
  });

  it('checks targets: defaults, names, thresholds, CA files and patterns, each problem naming its key', () => {
    const opts = checkSection(probePlugin.schema, { targets: [{ name: 'api', url: 'https://example.com/health' }] }, 'c.yaml: collector.plugins[0]');
    expect(opts.targets[0]).toMatchObject({ interval: 30_000, timeout: 5_000, degraded: 500, unhealthy: 1_000, method: 'GET', expectStatus: [], tls: { insecureSkipVerify: false } });
    expect(() => checkSection(probePlugin.schema, { targets: [{ name: 'a', url: 'ftp://x' }] }, 'c.yaml: collector.plugins[0]')).toThrow(/collector\.plugins\[0\]\.targets\[0\]\.url/);
    expect(() => checkSection(probePlugin.schema, { targets: [{ name: 'a', url: 'http://x', bodyMatch: '(' }] }, 'c.yaml: collector.plugins[0]')).toThrow(/targets\[0\]\.bodyMatch/);
    expect(() => checkSection(probePlugin.schema, { targets: [] }, 'c.yaml: collector.plugins[0]')).toThrow(ConfigError);
    const bad = checkSection(
      probePlugin.schema,
      {
        targets: [
          { name: 'a', url: 'tcp://host' },
          { name: 'a', url: 'http://x', degraded: '2s' },
          { name: 'b', url: 'https://x', tls: { ca: '/nonexistent/ca.pem' } },
          { name: 'c', url: 'mysql://shop:50%zz@db:3306/shop' },
          { name: 'd', url: 'postgres://app@db/orders%2' },
          { name: 'e', url: 'mariadb://shop:p%25ss@db/shop' },
        ],
      },
      'c',
    );
    try {
      planProbes(bad.targets, 'c.yaml: collector.plugins[0].targets');
      expect.unreachable();
    } catch (err) {
      expect((err as ConfigError).problems).toEqual([
        'c.yaml: collector.plugins[0].targets[0].url: a tcp:// target needs a port (tcp://host:port)',
        'c.yaml: collector.plugins[0].targets[1].name: "a" is used twice (give each probe its own name)',
        'c.yaml: collector.plugins[0].targets[1].degraded: 2000 ms is above unhealthy (1000 ms)',
        expect.stringMatching(/^c\.yaml: collector\.plugins\[0\]\.targets\[2\]\.tls\.ca: cannot read "\/nonexistent\/ca\.pem"/),
        'c.yaml: collector.plugins[0].targets[3].url: its password has a malformed %-escape (write a literal % as %25)',
        'c.yaml: collector.plugins[0].targets[4].url: its database has a malformed %-escape (write a literal % as %25)',
      ]);
    }
  });
});
