import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseYamlDocument } from '@vigil/platform';
import { loadCorpus } from './corpus.js';
import { compileRules, gatesOf, mayStart } from './compile.js';
import { leadingChars, type CharSet } from './leading.js';
import { BUILTIN_RULES_DIR, readYamlFile } from './load.js';

const show = (set: CharSet) => [...set.ascii].flatMap((v, i) => (v ? [String.fromCharCode(i)] : [])).join('') + (set.other ? '+' : '');
/** The first position's characters. */
const starts = (source: string, flags = '') => {
  const l = leadingChars(source, flags);
  return l === undefined ? undefined : show(l[0]!);
};
/** Every position's. */
const prefix = (source: string, flags = '') => leadingChars(source, flags)?.map(show);

describe('leadingChars: what a line must start with for an anchored rule to match', () => {
  it('literals, classes, escapes, groups, optional atoms, case folding', () => {
    expect(starts('^<(?<pri>\\d+)>')).toBe('<');
    expect(starts('^\\[(?<ts>[^\\]]+)\\]')).toBe('[');
    expect(starts('^(?:<\\d+>)?[A-Z][a-z]{2} ')).toBe('<ABCDEFGHIJKLMNOPQRSTUVWXYZ');
    expect(starts('^(?<level>INFO|WARN)')).toBe('IW');
    expect(starts('^(?<level>info|warn): ', 'i')).toBe('IWiw');
    expect(starts('^\\d{4}-')).toBe('0123456789');
    expect(starts('^\\s+at ')).toBe('\t\n\u000b\f\r +');
    expect(starts('^[a-c_-]x|^\\(node')).toBe('(-_abc');
    expect(starts('^a{0,2}b')).toBe('ab');
  });

  it('gives up rather than guess: not anchored everywhere, lookarounds, negated classes, \\S, the m flag, patterns that may match nothing', () => {
    expect(starts('abc')).toBeUndefined();
    expect(starts('^a|b')).toBeUndefined();
    expect(starts('^(?=a)b')).toBeUndefined();
    expect(starts('^[^a]')).toBeUndefined();
    expect(starts('^\\S+')).toBeUndefined();
    expect(starts('^a', 'm')).toBeUndefined();
    expect(starts('^a?')).toBeUndefined();
    expect(starts('^(?:a|)b')).toBe('ab');
    expect(starts('^.')).toBeUndefined();
  });

  it('the positions after the first while the pattern fixes them: a timestamp tells 2024-01-15 from 203.0.113.5', () => {
    const D = '0123456789';
    expect(prefix('^(?<ts>\\d{4}-\\d{2}-\\d{2}[ T]\\d{2})')).toEqual([D, D, D, D, '-', D, D, '-', D, D, ' T', D]);
    expect(prefix('^<\\d{1,3}>')).toEqual(['<', D]);
    expect(prefix('^ab?c')).toEqual(['a', 'bc']);
    expect(prefix('^\\[(?:ERROR|INFO)\\]')).toEqual(['[', 'EI']);
    expect(prefix('^abc|^ax')).toEqual(['a', 'bx']);
    const spring = leadingChars('^\\d{4}-\\d{2}-\\d{2} \\d{2}', '')!;
    expect([mayStart(spring, '2024-01-15 10:00'), mayStart(spring, '2024-01-15T10:00'), mayStart(spring, '203.0.113.5 - -'), mayStart(spring, '2024')]).toEqual([true, false, false, false]);
  });

  it('never rules out a line that the regex matches: every rule of every built-in pack on the corpus and the cases', () => {
    const lines = loadCorpus(join(import.meta.dirname, 'fixtures/corpus')).flatMap((r) => [r.line, ...r.line.split('\n')]);
    const cases = parseYamlDocument(readFileSync(join(import.meta.dirname, 'fixtures/default-pack.cases.yaml'), 'utf8')).toJS() as { line: string }[];
    lines.push(...cases.map((c) => c.line), '', ' ', 'é', '\u00a0x');
    const pack = parseYamlDocument(readFileSync(join(BUILTIN_RULES_DIR, 'default.yaml'), 'utf8')).toJS() as { rules: { name: string; match: string; flags?: string }[] };
    let checked = 0;
    for (const rule of pack.rules) {
      const lead = leadingChars(rule.match, rule.flags ?? '');
      if (lead === undefined) continue;
      const re = new RegExp(rule.match, rule.flags ?? '');
      for (const line of lines) {
        if (!re.test(line)) continue;
        expect([rule.name, line, mayStart(lead, line)]).toEqual([rule.name, line, true]);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(300);
  });
});

describe('gates: one regex for a run of rules that only classify', () => {
  it('a line passes the gate of a run exactly when one of its rules matches (default pack, corpus and cases)', () => {
    const { rules } = compileRules(readYamlFile(join(BUILTIN_RULES_DIR, 'default.yaml'), 'default'), 'default');
    const gates = gatesOf(rules);
    expect(gates.filter(Boolean).length).toBeGreaterThanOrEqual(2);
    const lines = loadCorpus(join(import.meta.dirname, 'fixtures/corpus')).flatMap((r) => r.line.split('\n'));
    gates.forEach((gate, i) => {
      if (!gate) return;
      const run = rules.slice(i, gate.end);
      expect(run.every((r) => r.groups.length === 0 && r.re.flags === rules[i]!.re.flags)).toBe(true);
      for (const line of lines) expect([run[0]!.name, line, gate.re.test(line)]).toEqual([run[0]!.name, line, run.some((r) => r.re.test(line))]);
    });
  });
});
