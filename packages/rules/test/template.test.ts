import { describe, expect, it } from 'vitest';
import { formatValue, renderAnnotations, renderTemplate, templateProblems } from '../src/template.js';

const ctx = { value: 0.93456, severity: 'critical', rule: 'cpu_high', status: 'firing', labels: { alertname: 'cpu_high', 'host.name': 'web-1' } };

describe('renderTemplate', () => {
  it('substitutes value, percent, severity, rule, status and labels', () => {
    expect(renderTemplate('{{rule}} {{status}} {{severity}}: {{value}} ({{percent}}) on {{labels.host.name}}', ctx)).toBe(
      'cpu_high firing critical: 0.935 (93.5%) on web-1',
    );
  });

  it('accepts Handlebars\' bracket form for label names with dots, and spaces inside braces', () => {
    expect(renderTemplate('{{ labels.[host.name] }}|{{  value }}', ctx)).toBe('web-1|0.935');
  });

  it('renders unknown placeholders and missing labels as nothing, and leaves other text alone', () => {
    expect(renderTemplate('a{{nope}}b{{labels.missing}}c { not } {{', ctx)).toBe('abc { not } {{');
  });

  it('renderAnnotations renders each text', () => {
    expect(renderAnnotations({ summary: '{{labels.alertname}}', description: 'at {{value}}' }, { ...ctx, value: 2 })).toEqual({
      summary: 'cpu_high',
      description: 'at 2',
    });
  });
});

describe('formatValue', () => {
  it('keeps at most three decimals', () => {
    expect(formatValue(1)).toBe('1');
    expect(formatValue(0.1 + 0.2)).toBe('0.3');
    expect(formatValue(1234.56789)).toBe('1234.568');
    expect(formatValue(Number.NaN)).toBe('NaN');
  });
});

describe('templateProblems', () => {
  const names = new Set(['alertname', 'host.name']);
  it('accepts known fields and labels', () => {
    expect(templateProblems('{{value}} {{percent}} {{severity}} {{rule}} {{status}} {{labels.host.name}} {{labels.[alertname]}}', names)).toEqual([]);
  });
  it('names unknown fields and labels the alert cannot have', () => {
    expect(templateProblems('{{valu}} {{labels.mountpoint}}', names)).toEqual([
      '{{valu}} is not known (use value, percent, severity, rule, status or labels.NAME)',
      '{{labels.mountpoint}}: the alert has no label "mountpoint" (it has alertname, host.name)',
    ]);
  });
});
