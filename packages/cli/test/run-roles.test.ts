import { describe, expect, it } from 'vitest';
import { parseArgs, parseRoles } from '../src/main.js';

describe('vigil run --roles', () => {
  it('takes known roles, each once, in the order given', () => {
    expect(parseRoles('ingest,rules,notifier,query-api')).toEqual(['ingest', 'rules', 'notifier', 'query-api']);
    expect(parseRoles(' query-api , ingest,ingest')).toEqual(['query-api', 'ingest']);
    expect(parseRoles('collector')).toEqual(['collector']);
  });

  it.each([
    [undefined, 'run needs --roles: vigil run --roles ingest,rules,notifier,query-api (roles: collector, ingest, rules, notifier, query-api)'],
    ['ingest,bogus', '--roles: "bogus" is not a role (use collector, ingest, rules, notifier, query-api, separated by commas)'],
    ['ingest,', '--roles: "" is not a role'],
  ])('refuses %j, naming the value and what is allowed', (list, message) => {
    expect(() => parseRoles(list)).toThrow(message);
  });

  it('reads --roles LIST and --roles=LIST for run only', () => {
    expect(parseArgs(['run', '--roles', 'ingest,rules', '--config', 'c.yaml'])).toMatchObject({ command: 'run', roles: 'ingest,rules', config: 'c.yaml' });
    expect(parseArgs(['run', '--roles=query-api'])).toMatchObject({ roles: 'query-api' });
    expect(() => parseArgs(['run', '--roles'])).toThrow('--roles needs a list: --roles collector,ingest,rules,notifier,query-api');
    expect(() => parseArgs(['ingest', '--roles', 'rules'])).toThrow('unknown option --roles');
  });
});
