import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  CPU_MODES,
  cpuUtilization,
  fsUsage,
  isReportedDisk,
  osCpuSeconds,
  parseDiskstats,
  parseMeminfo,
  parseMounts,
  parseNetDev,
  parseProcStat,
  parseUptime,
} from '../src/plugins/host/procfs.js';

const fixture = (name: string) => readFileSync(new URL(`./fixtures/host/${name}`, import.meta.url), 'utf8');

describe('host plugin: /proc parsers', () => {
  it('reads /proc/stat: total and per-core CPU seconds by mode (irq+softirq = interrupt), process counters', () => {
    const s = parseProcStat(fixture('stat.txt'))!;
    expect(CPU_MODES).toEqual(['user', 'nice', 'system', 'idle', 'iowait', 'interrupt', 'steal']);
    expect(s.total).toEqual([2878.7, 0.1, 647.41, 5222.09, 112.67, 0.05 + 15.64, 140.25]);
    expect(s.cores.map((c) => c.n)).toEqual([0, 1]);
    expect(s.cores[1]!.seconds).toEqual([1498.4, 0.06, 343.31, 2504.86, 78.76, 0.03 + 12.31, 69.67]);
    expect([s.procsRunning, s.procsBlocked, s.processesCreated, s.contextSwitches]).toEqual([4, 1, 58041, 14580378]);
    expect(parseProcStat(fixture('stat.txt'), 1000)!.total[0]).toBeCloseTo(287.87);
    expect(parseProcStat('garbage\nprocs_running 3\n')).toBeUndefined();
  });

  it('reads the real /proc/stat of this machine', () => {
    const s = parseProcStat(readFileSync('/proc/stat', 'utf8'))!;
    expect(s.cores.length).toBeGreaterThan(0);
    expect(s.total[3]).toBeGreaterThan(0);
    expect(s.procsRunning).toBeGreaterThanOrEqual(1);
    const sum = s.cores.reduce((acc, c) => acc + c.seconds[0]!, 0);
    expect(sum).toBeCloseTo(s.total[0]!, 0);
  });

  it('gives per-mode fractions that add up to 1, nothing when no time passed or counters went back', () => {
    const a = [100, 0, 50, 850, 0, 0, 0];
    const b = [200, 0, 100, 900, 50, 0, 0];
    const u = cpuUtilization(a, b)!;
    expect(u).toEqual([100 / 250, 0, 50 / 250, 50 / 250, 50 / 250, 0, 0]);
    expect(u.reduce((x, y) => x + y, 0)).toBeCloseTo(1);
    expect(cpuUtilization(b, b)).toBeUndefined();
    expect(cpuUtilization(b, a)).toBeUndefined();
  });

  it("converts Node's os.cpus() times where there is no /proc", () => {
    expect(osCpuSeconds({ user: 1500, nice: 0, sys: 500, idle: 8000, irq: 100 })).toEqual([1.5, 0, 0.5, 8, 0, 0.1, 0]);
  });

  it('reads /proc/diskstats: whole disks only by default, bytes from 512-byte sectors, times in seconds', () => {
    const disks = parseDiskstats(fixture('diskstats.txt'));
    expect(disks.map((d) => d.device)).toEqual(['vda', 'sda', 'nvme0n1', 'mmcblk0', 'dm-0', 'zram0']);
    expect(disks[0]).toEqual({
      device: 'vda',
      readOps: 460428,
      readMerged: 49371,
      readBytes: 24584154 * 512,
      readTime: 2352.25,
      writeOps: 164585,
      writeMerged: 126398,
      writeBytes: 8741312 * 512,
      writeTime: 157.161,
      ioTime: 159.444,
    });
    expect(parseDiskstats(fixture('diskstats.txt'), (d) => d === 'sda1').map((d) => d.device)).toEqual(['sda1']);
    expect(parseDiskstats('  8 0 sda 1 2 3\n')).toEqual([]);
  });

  it('tells partitions, loop and RAM devices from whole disks', () => {
    for (const d of ['sda', 'vdb', 'xvda', 'hda', 'nvme0n1', 'nvme10n2', 'mmcblk0', 'dm-3', 'md0', 'zram0', 'sr0']) expect(isReportedDisk(d), d).toBe(true);
    for (const d of ['sda1', 'vdb12', 'xvda1', 'nvme0n1p1', 'mmcblk0p2', 'loop0', 'loop12', 'ram3']) expect(isReportedDisk(d), d).toBe(false);
  });

  it('reads /proc/uptime', () => {
    expect(parseUptime('4524.21 5222.10\n')).toBe(4524.21);
    expect(parseUptime('')).toBeUndefined();
  });

  it('reads /proc/meminfo as free(1) does, swap included', () => {
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
