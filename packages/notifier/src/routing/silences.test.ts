import { ConfigError } from '@vigil/platform';
import { describe, expect, it } from 'vitest';
import { SilenceSet, silenceId } from './silences.js';

const T0 = Date.parse('2025-06-01T12:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString();

describe('silences', () => {
  const web = { alertname: 'cpu', host: 'web-1', severity: 'critical', rule: 'cpu' };
  const db = { alertname: 'cpu', host: 'db-1', severity: 'critical', rule: 'cpu' };

  it('mute matching labels between startsAt (inclusive) and endsAt (exclusive)', () => {
    const set = new SilenceSet();
    const s = set.add({ matchers: ['host=~"web-.*"', 'rule="cpu"'], startsAt: iso(T0), endsAt: iso(T0 + 3_600_000), createdBy: 'ops', comment: 'deploy' }, T0 - 1000);
    expect(s.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(set.isSilenced(web, T0 - 1)).toBe(false);
    expect(set.isSilenced(web, T0)).toBe(true);
    expect(set.isSilenced(db, T0)).toBe(false);
    expect(set.isSilenced(web, T0 + 3_599_999)).toBe(true);
    expect(set.isSilenced(web, T0 + 3_600_000)).toBe(false);
    expect(set.silencedBy(web, T0)).toEqual([s.id]);
    expect(set.list(T0 - 1).map((x) => x.state)).toEqual(['pending']);
    expect(set.list(T0).map((x) => x.state)).toEqual(['active']);
    expect(set.list(T0 + 3_600_000, ['active'])).toEqual([]);
    expect(set.get(s.id, T0 + 3_600_000)?.state).toBe('expired');
  });

  it('derives the same id from the same fields; a given id is kept and replaces', () => {
    const input = { matchers: ['a="1"'], startsAt: iso(T0), endsAt: iso(T0 + 1000) };
    expect(silenceId(input)).toBe(silenceId({ ...input }));
    expect(silenceId(input)).not.toBe(silenceId({ ...input, comment: 'x' }));
    const set = new SilenceSet();
    set.add({ ...input, id: 'b0a7b2b4-0000-4000-8000-000000000001' }, T0);
    set.add({ ...input, id: 'b0a7b2b4-0000-4000-8000-000000000001', matchers: ['a="2"'] }, T0);
    expect(set.size).toBe(1);
    expect(set.isSilenced({ a: '1' }, T0)).toBe(false);
    expect(set.isSilenced({ a: '2' }, T0)).toBe(true);
  });

  it('expire ends it now; a pending one never starts', () => {
    const set = new SilenceSet();
    const active = set.add({ matchers: ['a="1"'], startsAt: iso(T0), endsAt: iso(T0 + 10_000) }, T0);
    const pending = set.add({ matchers: ['a="1"'], startsAt: iso(T0 + 5000), endsAt: iso(T0 + 10_000) }, T0);
    expect(set.expire(active.id, T0 + 2000)).toBe(true);
    expect(set.expire(active.id, T0 + 3000)).toBe(false);
    expect(set.expire('nope', T0)).toBe(false);
    expect(set.isSilenced({ a: '1' }, T0 + 2000)).toBe(false);
    expect(set.expire(pending.id, T0 + 2000)).toBe(true);
    expect(set.isSilenced({ a: '1' }, T0 + 6000)).toBe(false);
    expect(set.get(pending.id, T0 + 6000)?.state).toBe('expired');
  });

  it('state round-trips; gc forgets long-expired ones', () => {
    const set = new SilenceSet();
    set.add({ matchers: ['a="1"'], startsAt: iso(T0), endsAt: iso(T0 + 10_000) }, T0);
    set.add({ matchers: ['b="1"'], startsAt: iso(T0), endsAt: iso(T0 + 100_000) }, T0);
    const copy = SilenceSet.restore(JSON.parse(JSON.stringify(set.state())));
    expect(copy.list(T0)).toEqual(set.list(T0));
    expect(copy.gc(T0 + 20_000, 10_000)).toBe(1);
    expect(copy.list(T0).map((s) => s.matchers)).toEqual([['b="1"']]);
  });

  it('rejects what cannot work, naming the field', () => {
    const set = new SilenceSet();
    const problems = (input: Parameters<SilenceSet['add']>[0]) => {
      try {
        set.add(input, T0, 'silences[3]');
      } catch (e) {
        expect(e).toBeInstanceOf(ConfigError);
        return (e as ConfigError).problems;
      }
      return [];
    };
    expect(problems({ matchers: [], startsAt: iso(T0), endsAt: iso(T0 + 1) })).toEqual([
      'silences[3].matchers: at least one matcher is required (a silence of everything is almost always a mistake)',
    ]);
    expect(problems({ matchers: ['a=~"("'], startsAt: 'yesterday', endsAt: iso(T0) })).toEqual([
      expect.stringMatching(/^silences\[3\]\.matchers\[0\]: .*not a valid regex/),
      'silences[3].startsAt: "yesterday" is not an RFC 3339 time',
    ]);
    expect(problems({ matchers: ['a="1"'], startsAt: iso(T0), endsAt: iso(T0) })).toEqual([`silences[3].endsAt: ${iso(T0)} is not after startsAt ${iso(T0)}`]);
    expect(set.size).toBe(0);
  });
});
