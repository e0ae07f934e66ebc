import { Type } from '@sinclair/typebox';
import { Duration } from '@vigil/platform';
import { definePlugin } from '../../plugin.js';
import { HOST_DEFAULTS, registerHostMetrics, type HostMetricsOptions } from './metrics.js';

export { HOST_DEFAULTS, registerHostMetrics, type HostMetricsOptions } from './metrics.js';

export const HostOptions = Type.Object(
  {
    interval: Duration({
      default: '10s',
      description:
        'Minimum time between two readings of /proc. Points are exported every collector.interval; when that is shorter, the last reading is reported again.',
    }),
    perCpu: Type.Boolean({ default: true, description: 'Report system.cpu.time per logical CPU (attribute cpu.logical_number); off: summed over CPUs. system.cpu.utilization is always the total.' }),
    disks: Type.Optional(
      Type.String({ format: 'regex', description: 'Regular expression of the block devices to report from /proc/diskstats; default: whole disks (no partitions, loop or RAM devices).', examples: ['^(sd[a-z]+|nvme\\d+n\\d+)$'] }),
    ),
    procfs: Type.String({
      default: '/proc',
      pattern: '^/',
      description:
        "Where the host's /proc is mounted. In a container given it read-only (Kubernetes DaemonSet, compose: /host/proc), mounts and network counters are read from its process 1, the host's init, as node_exporter's --path.procfs.",
      examples: ['/host/proc'],
    }),
    rootfs: Type.String({ default: '/', pattern: '^/', description: "Where the host's root filesystem is mounted; filesystems are measured under it and reported by their host paths (node_exporter's --path.rootfs).", examples: ['/host/root'] }),
  },
  { additionalProperties: false },
);

/** Turns the checked options into what registerHostMetrics takes (the disk pattern compiled once). */
export function hostMetricsOptions(o: { interval: number; perCpu: boolean; disks?: string; procfs?: string; rootfs?: string }): HostMetricsOptions {
  const re = o.disks !== undefined ? new RegExp(o.disks) : undefined;
  return { interval: o.interval, perCpu: o.perCpu, disks: re ? (d) => re.test(d) : HOST_DEFAULTS.disks, procfs: o.procfs, rootfs: o.rootfs };
}

/**
 * `type: host`: this machine's CPU, memory, swap, filesystems, disk I/O, network, load, uptime and
 * process counts. `collector.host.enabled` (the default) runs one with default options when no
 * `host` entry is listed in collector.plugins.
 */
export const hostPlugin = definePlugin({
  type: 'host',
  description: 'Host metrics from /proc, named by the OpenTelemetry semantic conventions (system.*).',
  schema: HostOptions,
  create(options, ctx) {
    return {
      async start() {
        registerHostMetrics(ctx.meter, hostMetricsOptions(options));
      },
      async stop() {},
    };
  },
});
