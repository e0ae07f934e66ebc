import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { runRuleTestFile } from '../src/test-rules.js';

describe('the default pack\'s own tests (vigil test rules pack/default.test.yaml)', () => {
  it('all pass', () => {
    const r = runRuleTestFile(fileURLToPath(new URL('../pack/default.test.yaml', import.meta.url)));
    expect(r.failures).toEqual([]);
    expect(r.passed).toBeGreaterThanOrEqual(20);
  });
});

describe('vigil test rules notation', async () => {
  const { expandValues, parseSelector } = await import('../src/test-rules.js');
  it('expands values as promtool does', () => {
    expect(expandValues('1 2')).toEqual([1, 2]);
    expect(expandValues('1+2x3 _ 5x2 _x1 -1-1x1')).toEqual([1, 3, 5, 7, undefined, 5, 5, 5, undefined, undefined, -1, -2]);
    expect(() => expandValues('1 x', 'tests[0].values')).toThrow(/tests\[0\]\.values: "x" is not a value/);
  });
  it('reads name{attr="value", ...}', () => {
    expect(parseSelector('m{a="1", b.c="x\\"y"}', 'at')).toEqual({ name: 'm', attrs: { a: '1', 'b.c': 'x"y' } });
    expect(parseSelector('{host.name="h"}', 'at')).toEqual({ name: '', attrs: { 'host.name': 'h' } });
    expect(() => parseSelector('m{a=1}', 'tests[0].series')).toThrow(/tests\[0\]\.series: cannot read the attributes of "m\{a=1\}"/);
  });
});
