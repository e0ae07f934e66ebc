import { describe, expect, it } from 'vitest';
import { firstMac, otelOsType, prettyName } from '../src/identity.js';

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
});
