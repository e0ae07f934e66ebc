import { describe, expect, it } from 'vitest';
import { prometheusLabelName, prometheusLabels } from '../src/prometheus-names.js';

describe('Prometheus label names', () => {
  it('follows the OpenTelemetry Prometheus exporter: non [A-Za-z0-9_] to _, runs of _ to one', () => {
    expect(prometheusLabelName('host.name')).toBe('host_name');
    expect(prometheusLabelName('vigil.error.fingerprint')).toBe('vigil_error_fingerprint');
    expect(prometheusLabelName('http.response.status_code')).toBe('http_response_status_code');
    expect(prometheusLabelName('a-b/c d')).toBe('a_b_c_d');
    expect(prometheusLabelName('x..y__z')).toBe('x_y_z');
    expect(prometheusLabelName('alertname')).toBe('alertname');
    expect(prometheusLabelName('é')).toBe('_');
  });

  it('gives a leading digit the prefix key_ and drops an empty name', () => {
    expect(prometheusLabelName('5xx.share')).toBe('key_5xx_share');
    expect(prometheusLabelName('')).toBeUndefined();
  });

  it('every name it makes is a valid Prometheus label name', () => {
    for (const n of ['host.name', '.x', '9', '__reserved', 'a:b', 'ü.ß', 'service.instance.id']) {
      expect(prometheusLabelName(n)).toMatch(/^[a-zA-Z_][a-zA-Z0-9_]*$/);
    }
  });

  it('joins the values of names that collide with ; in the order of the original names', () => {
    expect(prometheusLabels({ 'host.name': 'web-1', alertname: 'cpu_high', severity: 'critical' })).toEqual({ host_name: 'web-1', alertname: 'cpu_high', severity: 'critical' });
    expect(prometheusLabels({ host_name: 'b', 'host.name': 'a' })).toEqual({ host_name: 'a;b' });
    expect(prometheusLabels({ '': 'x', a: '1' })).toEqual({ a: '1' });
  });
});
