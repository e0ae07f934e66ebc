import { describe, expect, it } from 'vitest';
import { formatValue, humanValue, renderAnnotations, renderTemplate, templateProblems } from '../src/template.js';
import { eventView } from '../src/selector.js';
import { event } from './helpers.js';

const ctx = { value: 0.93456, unit: '1', threshold: 0.9, severity: 'critical', rule: 'cpu_high', status: 'firing', expr: 'avg(cpu)', windowMs: 60_000, labels: { alertname: 'cpu_high', 'host.name': 'web-1' } };

describe('renderTemplate', () => {
  it('substitutes value, human, threshold, percent, severity, rule, status, expr, window and labels', () => {
    expect(renderTemplate('{{rule}} {{status}}: CPU {{human}} ({{severity}} at {{threshold}}) = {{value}} = {{percent}} on {{labels.host.name}} over {{window}}; {{expr}}', ctx)).toBe(
      'cpu_high firing: CPU 93.5 % (critical at 90 %) = 0.935 = 93.5% on web-1 over 1m; avg(cpu)',
    );
  });

  it('accepts the bracket form and spaces, renders unknown placeholders as nothing', () => {
    expect(renderTemplate('{{ labels.[host.name] }}|a{{nope}}b{{labels.missing}}c { not } {{', ctx)).toBe('web-1|abc { not } {{');
  });

  it('renders the latest record of an event rule', () => {
    const e = eventView(event(1, { body: 'boom', eventName: 'app.error', attributes: { 'exception.type': 'ValueError' } }));
    expect(renderTemplate('{{event.name}}: {{event.exception.type}} {{event.body}} on {{event.host.name}}', { ...ctx, event: e })).toBe('app.error: ValueError boom on web-1');
  });

  it('a state shows its text', () => {
    expect(renderAnnotations({ s: '{{value}}/{{human}}' }, { ...ctx, text: 'unhealthy' })).toEqual({ s: 'unhealthy/unhealthy' });
  });
});

describe('humanValue', () => {
  it.each([
    [0.934, '1', '93.4 %'],
    [93.4, '%', '93.4 %'],
    [0.85, 's', '850 ms'],
    [1.25, 's', '1.3 s'],
    [600, 's', '10m'],
    [1500, 'ms', '1.5 s'],
    [3 * 1024 * 1024, 'By', '3 MiB'],
    [12.5, '/s', '12.5/s'],
    [3, '{event}', '3'],
    [7, 'req', '7 req'],
    [2.5, '', '2.5'],
  ])('%s %s is %s', (v, unit, text) => {
    expect(humanValue(v, unit)).toBe(text);
  });
  it('formatValue keeps at most three decimals', () => {
    expect([formatValue(1), formatValue(0.1 + 0.2), formatValue(1234.56789), formatValue(Number.NaN)]).toEqual(['1', '0.3', '1234.568', 'NaN']);
  });
});

describe('templateProblems', () => {
  const names = new Set(['alertname', 'host.name']);
  it('accepts known fields and labels', () => {
    expect(templateProblems('{{value}} {{human}} {{threshold}} {{unit}} {{percent}} {{severity}} {{rule}} {{status}} {{expr}} {{window}} {{labels.host.name}}', names)).toEqual([]);
  });
  it('names unknown fields, labels the alert cannot have, and events in a rule without them', () => {
    expect(templateProblems('{{valu}} {{labels.mountpoint}} {{event.body}}', names)).toEqual([
      '{{valu}} is not known (use value, human, percent, threshold, unit, severity, rule, status, expr, window, labels.NAME or event.NAME)',
      '{{labels.mountpoint}}: the alert has no label "mountpoint" (it has alertname, host.name)',
      '{{event.body}}: the rule reads no events (event.* is for frequency, absence, state and ratio rules over events)',
    ]);
    expect(templateProblems('{{event.body}}', names, true)).toEqual([]);
  });
});
