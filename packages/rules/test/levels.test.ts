import { describe, expect, it } from 'vitest';
import { compare, levelOf, thresholdProblems, type Thresholds } from '../src/levels.js';

const T: Thresholds = { op: '>=', info: 0.5, warning: 0.7, critical: 0.9 };

describe('levelOf', () => {
  it('checks critical, then warning, then info', () => {
    expect([0.95, 0.9, 0.8, 0.7, 0.6, 0.4].map((x) => levelOf(x, T))).toEqual(['critical', 'critical', 'warning', 'warning', 'info', undefined]);
    expect(levelOf(Number.NaN, T)).toBeUndefined();
  });

  it('with "<" the critical threshold is the lower one (vehicle utilisation under 30 % is info)', () => {
    expect(levelOf(0.25, { op: '<', info: 0.3 })).toBe('info');
    expect(levelOf(0.3, { op: '<', info: 0.3 })).toBeUndefined();
    expect(levelOf(0.05, { op: '<', warning: 0.3, critical: 0.1 })).toBe('critical');
  });

  it('hysteresis: a level holds until the value passes its recover threshold, and only once reached', () => {
    const h: Thresholds = { op: '>=', warning: 0.7, critical: 0.9, recover: { warning: 0.65, critical: 0.85 } };
    expect(levelOf(0.87, h)).toBe('warning');
    expect(levelOf(0.87, h, 'critical')).toBe('critical');
    expect(levelOf(0.84, h, 'critical')).toBe('warning');
    expect(levelOf(0.66, h, 'warning')).toBe('warning');
    expect(levelOf(0.66, h, 'critical')).toBe('warning');
    expect(levelOf(0.64, h, 'warning')).toBeUndefined();
    expect(levelOf(0.68, h)).toBeUndefined();
  });

  it('compare implements each op', () => {
    expect((['>', '>=', '<', '<=', '==', '!='] as const).map((op) => compare(1, op, 1))).toEqual([false, true, false, true, true, false]);
  });
});

describe('thresholdProblems', () => {
  it('accepts sound thresholds', () => {
    expect(thresholdProblems(T, 'r')).toEqual([]);
    expect(thresholdProblems({ op: '<', warning: 0.3, critical: 0.1, recover: { critical: 0.15 } }, 'r')).toEqual([]);
  });
  it.each<[string, Thresholds, RegExp]>([
    ['no threshold', { op: '>' }, /needs an info, warning or critical threshold/],
    ['warning above critical', { op: '>=', warning: 3, critical: 2 }, /the warning threshold \(3\) must not be above the critical one \(2\)/],
    ['info below warning with <', { op: '<', info: 0.1, warning: 0.3 }, /the info threshold \(0\.1\) must not be below the warning one \(0\.3\)/],
    ['recover above the threshold', { op: '>', critical: 0.9, recover: { critical: 0.95 } }, /recover\.critical \(0\.95\) must be at or below the critical threshold/],
    ['recover without its level', { op: '>', critical: 0.9, recover: { warning: 0.5 } }, /recover\.warning is set but there is no warning threshold/],
    ['recover with ==', { op: '==', critical: 0, recover: { critical: 1 } }, /hysteresis needs op/],
  ])('reports %s', (_w, t, re) => {
    const p = thresholdProblems(t, 'r');
    expect(p).toHaveLength(1);
    expect(p[0]).toMatch(re);
  });
});
