import { MemoryBus } from '@vigil/platform';
import { describe, expect, it } from 'vitest';
import { SharedSilences, newerSilence } from '../src/pipeline/shared-silences.js';
import { SilenceSet, type Silence } from '../src/routing/silences.js';

/** A history in memory (the ClickHouse table in the role). */
function history(initial: Silence[] = []) {
  const rows = [...initial];
  return { rows, all: async () => rows, save: async (s: Silence) => void rows.push(s) };
}

const T0 = Date.parse('2026-12-01T10:00:00Z');
const until = (minutes: number) => new Date(T0 + minutes * 60_000).toISOString();

async function instance(bus: MemoryBus, clock: { t: number }, h = history()) {
  const silences = new SilenceSet();
  const shared = new SharedSilences({ bus, topic: 'notifier.silences', silences, history: h, now: () => clock.t });
  const opened = await shared.open();
  return { silences, shared, opened, history: h };
}

const eventually = async (check: () => boolean) => {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(check()).toBe(true);
};

describe('silences shared by the instances of a notifier group', () => {
  it('one made or expired through one instance mutes and unmutes on the others, without a restart', async () => {
    const bus = new MemoryBus();
    const clock = { t: T0 };
    const a = await instance(bus, clock);
    const b = await instance(bus, clock);
    const made = a.silences.add({ matchers: ['host.name="pos-17"'], startsAt: until(0), endsAt: until(60), createdBy: 'ops' }, clock.t);
    await a.shared.save(made);
    await eventually(() => b.silences.isSilenced({ 'host.name': 'pos-17' }, clock.t));
    expect(a.history.rows).toHaveLength(1);
    expect(b.history.rows).toHaveLength(0);

    clock.t += 60_000;
    expect(b.silences.expire(made.id, clock.t)).toBe(true);
    await b.shared.save(b.silences.get(made.id, clock.t)!);
    await eventually(() => !a.silences.isSilenced({ 'host.name': 'pos-17' }, clock.t));
    expect(a.silences.get(made.id, clock.t)!.state).toBe('expired');

    // A third instance, started later, reads them all before it takes alerts.
    const c = await instance(bus, clock);
    expect(c.opened.fromTopic).toBeGreaterThanOrEqual(1);
    expect(c.silences.get(made.id, clock.t)!.state).toBe('expired');
    await Promise.all([a.shared.close(), b.shared.close(), c.shared.close()]);
  });

  it('an older copy never replaces a newer one; stored silences the topic lacks are brought in once', async () => {
    const old: Silence = { id: 's1', matchers: ['a="1"'], startsAt: until(0), endsAt: until(30), comment: '', createdBy: '', updatedAt: until(0) };
    const expired: Silence = { ...old, endsAt: until(5), updatedAt: until(5) };
    expect(newerSilence(expired, old)).toBe(true);
    expect(newerSilence(old, expired)).toBe(false);

    const bus = new MemoryBus();
    const clock = { t: T0 + 10 * 60_000 };
    // An upgrade: the silence is in the history only.
    const first = await instance(bus, clock, history([old, expired]));
    expect(first.opened.fromHistory).toBe(1);
    expect(first.silences.get('s1', clock.t)!.state).toBe('expired');
    // The next start finds it on the topic and brings nothing in again.
    const second = await instance(bus, clock, history([old, expired]));
    expect(second.opened).toEqual({ fromTopic: 1, fromHistory: 0 });
    expect(second.silences.get('s1', clock.t)!.endsAt).toBe(until(5));
    await Promise.all([first.shared.close(), second.shared.close()]);
  });
});
