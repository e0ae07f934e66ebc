import { describe, expect, it } from 'vitest';
import { cpuUtilization, fsUsage, parseMeminfo, parseMounts, parseNetDev, sumCpuTimes } from '../src/host/procfs.js';
import { firstMac, otelOsType, prettyName } from '../src/identity.js';

describe('host plugin arithmetic', () => {
  it('sums CPU times over cores and gives per-mode fractions that add up to 1', () => {
    const a = sumCpuTimes([
      { times: { user: 100, nice: 0, sys: 50, idle: 850, irq: 0 } },
      { times: { user: 300, nice: 0, sys: 100, idle: 600, irq: 0 } },
    ]);
    const b = sumCpuTimes([
      { times: { user: 200, nice: 0, sys: 100, idle: 900, irq: 0 } },
      { times: { user: 500, nice: 0, sys: 150, idle: 650, irq: 0 } },
    ]);
    const u = cpuUtilization(a, b)!;
    expect(u.user).toBeCloseTo(300 / 500);
    expect(u.system).toBeCloseTo(100 / 500);
    expect(u.idle).toBeCloseTo(100 / 500);
    expect(u.user + u.system + u.idle + u.nice + u.interrupt).toBeCloseTo(1);
    expect(cpuUtilization(b, b)).toBeUndefined();
  });

  it('reads /proc/meminfo as free(1) does', () => {
    const m = parseMeminfo('MemTotal:       1000 kB\nMemFree:         200 kB\nBuffers:          50 kB\nCached:          250 kB\nSReclaimable:     100 kB\nSwapTotal:       512 kB\nSwapFree:        256 kB\n')!;
    expect(m).toEqual({ total: 1024000, free: 204800, buffers: 51200, cached: 358400, used: 409600, swapTotal: 524288, swapFree: 262144 });
    expect(parseMeminfo('garbage')).toBeUndefined();
  });

  it('reads /proc/net/dev without loopback', () => {
    const text = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:    1000      10    0    0    0     0          0         0     1000      10    0    0    0     0       0          0
  eth0: 5000000    4000    2    1    0     0          0         0  3000000    3500    0    3    0     0       0          0
`;
    expect(parseNetDev(text)).toEqual([
      { name: 'eth0', rxBytes: 5000000, rxPackets: 4000, rxErrors: 2, rxDropped: 1, txBytes: 3000000, txPackets: 3500, txErrors: 0, txDropped: 3 },
    ]);
  });

  it('keeps real filesystems and a container root, once per mount point', () => {
    const text = [
      'overlay / overlay rw 0 0',
      'proc /proc proc rw 0 0',
      'tmpfs /dev tmpfs rw 0 0',
      '/dev/vda /work ext4 rw 0 0',
      '/dev/vda /work ext4 rw 0 0',
      '/dev/sdb1 /mnt/my\\040disk xfs rw 0 0',
      'overlay /var/lib/docker/x overlay rw 0 0',
    ].join('\n');
    expect(parseMounts(text)).toEqual([
      { device: 'overlay', mountpoint: '/', type: 'overlay' },
      { device: '/dev/vda', mountpoint: '/work', type: 'ext4' },
      { device: '/dev/sdb1', mountpoint: '/mnt/my disk', type: 'xfs' },
    ]);
  });

  it('computes filesystem use as df does (reserved blocks excluded from the denominator)', () => {
    const u = fsUsage({ blocks: 1000, bfree: 300, bavail: 250, bsize: 4096 })!;
    expect(u).toEqual({ used: 700 * 4096, free: 250 * 4096, reserved: 50 * 4096, utilization: 700 / 950 });
    expect(fsUsage({ blocks: 0, bfree: 0, bavail: 0, bsize: 4096 })).toBeUndefined();
  });
});

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
