import { describe, expect, it } from 'vitest';
import { alertLabels, matchesAll, MatcherListError, parseMatcher, parseMatchers } from './matchers.js';

describe('matchers', () => {
  const labels = { alertname: 'cpu', host: 'web-1', severity: 'critical', 'host.name': 'web-1.example' };

  it.each([
    ['severity="critical"', true],
    ['severity="warning"', false],
    ['severity!="warning"', true],
    ['host=~"web-.*"', true],
    ['host=~"web"', false], // anchored
    ['host=~"db-.*|web-1"', true],
    ['host!~"web-.*"', false],
    ['team!="x"', true], // absent reads as ""
    ['team=""', true],
    ['team=~".+"', false],
    ['severity=critical', true], // unquoted value
    ['host.name="web-1.example"', true], // dotted names
    ['"host.name"="web-1.example"', true],
    ['  host = "web-1" ', true],
    ['alertname="c\\"pu"', false],
  ])('%s → %s', (text, expected) => {
    expect(parseMatcher(text).matches(labels)).toBe(expected);
  });

  it('writes a canonical form', () => {
    expect(String(parseMatcher('severity=critical'))).toBe('severity="critical"');
    expect(parseMatcher('a=~"x\\\\d"').value).toBe('x\\d');
  });

  it.each([
    ['severity', /is not a matcher/],
    ['="x"', /is not a matcher/],
    ['host=~"web-("', /not a valid regex/],
    ['host="web', /not a properly quoted string/],
    ['host=two words', /quote a value/],
  ])('rejects %s', (text, message) => {
    expect(() => parseMatcher(text)).toThrow(message);
  });

  it('names the key of each bad matcher in a list', () => {
    try {
      parseMatchers(['a="1"', 'b=~"("', 'nope'], 'route.routes[0].matchers');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(MatcherListError);
      expect((e as MatcherListError).problems).toEqual([
        expect.stringMatching(/^route\.routes\[0\]\.matchers\[1\]: .*not a valid regex/),
        expect.stringMatching(/^route\.routes\[0\]\.matchers\[2\]: "nope" is not a matcher/),
      ]);
    }
  });

  it('all matchers must hold', () => {
    const ms = parseMatchers(['severity="critical"', 'host=~"web-.*"'], 'm');
    expect(matchesAll(ms, labels)).toBe(true);
    expect(matchesAll(ms, { ...labels, host: 'db-1' })).toBe(false);
    expect(matchesAll([], labels)).toBe(true);
  });

  it('routing labels are the labels plus severity and rule, which win', () => {
    expect(alertLabels({ labels: { alertname: 'cpu', severity: 'bogus', host: 'a' }, severity: 'warning', rule: 'cpu_high' })).toEqual({
      alertname: 'cpu',
      severity: 'warning',
      host: 'a',
      rule: 'cpu_high',
    });
  });
});
