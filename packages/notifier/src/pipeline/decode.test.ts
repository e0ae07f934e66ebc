import { describe, expect, it } from 'vitest';
import { encodeAlert, type AlertTransition, type ConsumedRecord } from '@vigil/platform';
import { deadLetter, decodeRecord, type DeadLetter } from './decode.js';

const alert: AlertTransition = {
  fingerprint: '00ff00ff00ff00ff',
  status: 'firing',
  severity: 'critical',
  labels: { alertname: 'disk_full', 'host.name': 'db-1' },
  annotations: { summary: 'disk almost full' },
  startsAt: '2024-05-01T12:00:00.000Z',
  value: 0.97,
  rule: 'disk_full',
  window: 60_000,
};

const record = (value: Buffer, key: string | null = alert.fingerprint): ConsumedRecord => ({ topic: 'vigil.alerts', partition: 2, offset: '41', timestamp: 0, key, value });

describe('decodeRecord', () => {
  it('gives the transition and its delivery key', () => {
    const a = decodeRecord(record(encodeAlert(alert)));
    expect(a).toMatchObject({ ok: true, alert, key: '00ff00ff00ff00ff:2024-05-01T12:00:00.000Z:firing:critical' });
  });

  it('rejects bytes that are not JSON, saying where they came from', () => {
    const a = decodeRecord(record(Buffer.from([0xde, 0xad, 0xbe, 0xef])));
    expect(a.ok).toBe(false);
    if (!a.ok) expect(a.error).toMatch(/^vigil\.alerts\[2\]@41: .*JSON/);
  });

  it('rejects JSON that is not a transition, naming the fields', () => {
    const a = decodeRecord(record(Buffer.from(JSON.stringify({ ...alert, status: 'pending', startsAt: 'later' }))));
    expect(a.ok).toBe(false);
    if (!a.ok) expect(a.error).toBe('vigil.alerts[2]@41: not an alert transition: missing or invalid status, startsAt');
  });

  it('rejects an empty value', () => {
    expect(decodeRecord(record(Buffer.alloc(0))).ok).toBe(false);
  });
});

describe('deadLetter', () => {
  it('keeps the original bytes, the error, the source position and the source key', () => {
    const bytes = Buffer.from([0, 1, 2, 250, 255]);
    const out = deadLetter(record(bytes, 'k1'), 'boom');
    expect(out.key).toBe('k1');
    const letter = JSON.parse(out.value.toString()) as DeadLetter;
    expect(letter).toEqual({ error: 'boom', topic: 'vigil.alerts', partition: 2, offset: '41', key: 'k1', timestamp: 0, value: bytes.toString('base64') });
    expect(out.headers).toEqual({ 'vigil.error': 'boom', 'vigil.source.topic': 'vigil.alerts' });
    expect(Buffer.from(letter.value, 'base64').equals(bytes)).toBe(true);
  });

  it('names the channel when a delivery was given up', () => {
    const letter = JSON.parse(deadLetter(record(Buffer.from('{}'), null), 'HTTP 400', 'webhook:ops').value.toString()) as DeadLetter;
    expect(letter.channel).toBe('webhook:ops');
    expect(letter.key).toBeNull();
  });
});
