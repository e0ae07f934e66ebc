import { describe, expect, it } from 'vitest';
import { compileEventSelector, eventView, severityNumberOf } from '../src/selector.js';
import { event } from './helpers.js';

const sel = (s: Parameters<typeof compileEventSelector>[0]) => compileEventSelector(s);

describe('event selectors', () => {
  it('match name, severity at or above, category, attributes then resource, and body', () => {
    const s = sel({ name: '~app\\..*', severity: 'error', category: 'database_connection', where: { 'host.name': 'pos-1' }, body: 'refused' });
    const base = { host: 'pos-1', eventName: 'app.error', severityNumber: 17, severityText: 'ERROR', body: 'connection refused', attributes: { 'vigil.category': 'database_connection' } };
    expect(s.test(eventView(event(1, base)))).toBe(true);
    expect(s.test(eventView(event(1, { ...base, eventName: 'probe.x' })))).toBe(false);
    expect(s.test(eventView(event(1, { ...base, severityNumber: 13 })))).toBe(false);
    expect(s.test(eventView(event(1, { ...base, attributes: {} })))).toBe(false);
    expect(s.test(eventView(event(1, { ...base, host: 'pos-2' })))).toBe(false);
    expect(s.test(eventView(event(1, { ...base, body: 'ok' })))).toBe(false);
    expect(s.expr).toBe('events{event.name=~"app\\\\..*", vigil.category="database_connection", host.name="pos-1", severity>=error, body=~"refused"}');
  });

  it('reads the severity text when the number is not set', () => {
    expect(severityNumberOf({ severityNumber: 0, severityText: 'error' })).toBe(17);
    expect(severityNumberOf({ severityNumber: 0, severityText: 'WARNING' })).toBe(13);
    expect(severityNumberOf({ severityNumber: 0, severityText: '' })).toBe(0);
    expect(sel({ severity: 'warn', where: {} }).test(eventView(event(1, { severityNumber: 0, severityText: 'CRITICAL' })))).toBe(true);
  });

  it('an empty selector matches every record; a missing attribute reads as empty', () => {
    expect(sel({ where: {} }).test(eventView(event(1)))).toBe(true);
    expect(sel({ where: { x: '!y' } }).test(eventView(event(1)))).toBe(true);
  });

  it('gives records with an exception their error fingerprint', () => {
    const v = eventView(event(1, { attributes: { 'exception.type': 'ValueError', 'exception.message': 'bad 42' } }));
    expect(v.attribute('vigil.error.fingerprint')).toMatch(/^[0-9a-f]{16}$/);
    expect(eventView(event(1)).attribute('vigil.error.fingerprint')).toBeUndefined();
    // One a record carries stands; the others read as they are.
    const carried = eventView(event(1, { attributes: { 'exception.type': 'ValueError', 'vigil.error.fingerprint': 'given' } }));
    expect([carried.attribute('vigil.error.fingerprint'), carried.attribute('exception.type'), carried.attribute('nope')]).toEqual(['given', 'ValueError', undefined]);
  });
});
