import { describe, expect, it } from 'vitest';
import { firstMac, labelledIdentity, otelOsType, prettyName } from '../src/identity.js';

describe('host identity', () => {
  it('takes the first non-internal MAC in interface-name order', () => {
    expect(
      firstMac({
        lo: [{ internal: true, mac: '00:00:00:00:00:00' } as never],
        wlan0: [{ internal: false, mac: 'bb:bb:bb:bb:bb:bb' } as never],
        eth0: [{ internal: false, mac: 'aa:aa:aa:aa:aa:aa' } as never],
      }),
    ).toBe('aa:aa:aa:aa:aa:aa');
    expect(firstMac({ lo: [{ internal: true, mac: '00:00:00:00:00:00' } as never] })).toBeUndefined();
  });

  it('reads PRETTY_NAME and maps os.type', () => {
    expect(prettyName('NAME="Debian"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n')).toBe('Debian GNU/Linux 12 (bookworm)');
    expect(prettyName('NAME=x')).toBeUndefined();
    expect([otelOsType('linux'), otelOsType('win32'), otelOsType('darwin')]).toEqual(['linux', 'windows', 'darwin']);
  });

  it('takes host.id and host.name from the configured labels (the Kafka key follows the label, not the machine id)', () => {
    const detected = { 'host.id': 'machine-id', 'host.name': 'box', 'host.arch': 'amd64', 'os.type': 'linux', 'os.description': 'Debian' };
    expect(labelledIdentity(detected, { ...detected, 'host.id': 'till-7', 'host.name': 'till-7.shop', 'service.name': 'x' })).toEqual({ ...detected, 'host.id': 'till-7', 'host.name': 'till-7.shop' });
    // An empty or non-string label leaves the detected value.
    expect(labelledIdentity(detected, { 'host.id': '', 'host.name': 42 })).toEqual(detected);
  });
});
