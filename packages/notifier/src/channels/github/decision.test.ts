import { describe, expect, it } from 'vitest';
import { decideIssueAction, type DecisionInput, type IssueAction } from './decision.js';

const HOUR = 3_600_000;
const T0 = Date.parse('2024-05-01T12:00:00Z');

function input(over: Partial<DecisionInput>): DecisionInput {
  return {
    issue: { state: 'open', lastNoteAt: T0 },
    status: 'firing',
    alreadyApplied: false,
    nowMs: T0 + 10 * 60_000,
    commentIntervalMs: HOUR,
    closeOnResolve: true,
    reopenOnRegression: true,
    ...over,
  };
}
const act = (over: Partial<DecisionInput>): IssueAction => decideIssueAction(input(over)).action;

describe('decideIssueAction', () => {
  it('first firing creates; a resolve without an issue does nothing', () => {
    expect(act({ issue: undefined })).toBe('create');
    expect(act({ issue: undefined, status: 'resolved' })).toBe('none');
  });

  it('recurrence on an open issue: counted within the interval, commented from the interval on', () => {
    expect(act({ nowMs: T0 })).toBe('count');
    expect(act({ nowMs: T0 + HOUR - 1 })).toBe('count');
    expect(act({ nowMs: T0 + HOUR })).toBe('comment');
    expect(act({ nowMs: T0 + 5 * HOUR })).toBe('comment');
    expect(act({ nowMs: T0 + 1, commentIntervalMs: 0 })).toBe('comment');
  });

  it('a clock behind the last note (another instance, skew) counts instead of commenting', () => {
    expect(act({ nowMs: T0 - 5 * 60_000 })).toBe('count');
  });

  it('resolve on an open issue resolves (closing or not is the executor\'s option), on a closed one does nothing', () => {
    expect(act({ status: 'resolved' })).toBe('resolve');
    expect(act({ status: 'resolved', closeOnResolve: false })).toBe('resolve');
    expect(act({ status: 'resolved', issue: { state: 'closed', lastNoteAt: T0 } })).toBe('none');
  });

  it('firing on a closed issue reopens it, whatever the interval; with reopenOnRegression off it is a recurrence', () => {
    const closed = { state: 'closed' as const, lastNoteAt: T0 };
    expect(act({ issue: closed, nowMs: T0 + 1 })).toBe('reopen');
    expect(act({ issue: closed, nowMs: T0 + 2 * HOUR })).toBe('reopen');
    expect(act({ issue: closed, reopenOnRegression: false, nowMs: T0 + 1 })).toBe('count');
    expect(act({ issue: closed, reopenOnRegression: false, nowMs: T0 + 2 * HOUR })).toBe('comment');
  });

  it('a transition already applied is never acted on twice', () => {
    expect(act({ alreadyApplied: true, nowMs: T0 + 2 * HOUR })).toBe('none');
    expect(act({ alreadyApplied: true, status: 'resolved' })).toBe('none');
    expect(act({ alreadyApplied: true, issue: { state: 'closed', lastNoteAt: T0 } })).toBe('none');
  });

  it('every combination: create only without an issue, never a second one; close/reopen only from the matching state', () => {
    let seen = 0;
    for (const issue of [undefined, { state: 'open' as const, lastNoteAt: T0 }, { state: 'closed' as const, lastNoteAt: T0 }])
      for (const status of ['firing', 'resolved'] as const)
        for (const alreadyApplied of [false, true])
          for (const nowMs of [T0 - 1, T0, T0 + HOUR - 1, T0 + HOUR, T0 + 3 * HOUR])
            for (const closeOnResolve of [false, true])
              for (const reopenOnRegression of [false, true]) {
                const i: DecisionInput = { issue, status, alreadyApplied, nowMs, commentIntervalMs: HOUR, closeOnResolve, reopenOnRegression };
                const { action, reason } = decideIssueAction(i);
                seen++;
                expect(reason).not.toBe('');
                expect(action === 'create').toBe(issue === undefined && status === 'firing');
                if (action === 'reopen') expect([issue?.state, status, reopenOnRegression, alreadyApplied]).toEqual(['closed', 'firing', true, false]);
                if (action === 'resolve') expect([issue?.state, status, alreadyApplied]).toEqual(['open', 'resolved', false]);
                if (action === 'comment') expect(nowMs - issue!.lastNoteAt).toBeGreaterThanOrEqual(HOUR);
                if (action === 'count') expect(nowMs - issue!.lastNoteAt).toBeLessThan(HOUR);
                if (status === 'resolved') expect(['resolve', 'none']).toContain(action);
                if (alreadyApplied && issue !== undefined) expect(action).toBe('none');
                // Firing on an issue that is not applied always leaves a trace: comment, count or reopen.
                if (issue !== undefined && status === 'firing' && !alreadyApplied) expect(['comment', 'count', 'reopen']).toContain(action);
              }
    expect(seen).toBe(3 * 2 * 2 * 5 * 2 * 2);
  });
});
