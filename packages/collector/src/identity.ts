import { readFile } from 'node:fs/promises';
import os from 'node:os';

/** Resource attributes that identify where records come from (OpenTelemetry semantic conventions). */
export interface HostIdentity {
  'host.id': string;
  'host.name': string;
  'host.arch': string;
  'os.type': string;
  'os.description': string;
}

/** Picks the first non-internal, non-zero MAC address, in a stable (sorted by interface name) order. */
export function firstMac(interfaces: NodeJS.Dict<os.NetworkInterfaceInfo[]>): string | undefined {
  for (const name of Object.keys(interfaces).sort()) {
    for (const info of interfaces[name] ?? []) {
      if (!info.internal && info.mac && info.mac !== '00:00:00:00:00:00') return info.mac;
    }
  }
  return undefined;
}

/** `PRETTY_NAME` of /etc/os-release, when there is one. */
export function prettyName(osRelease: string): string | undefined {
  const m = /^PRETTY_NAME=(.*)$/m.exec(osRelease);
  return m?.[1]?.trim().replace(/^"(.*)"$/, '$1') || undefined;
}

/** OpenTelemetry `os.type` values. */
export function otelOsType(platform: NodeJS.Platform): string {
  switch (platform) {
    case 'win32':
      return 'windows';
    case 'sunos':
      return 'solaris';
    default:
      return platform;
  }
}

const OTEL_ARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm32', ia32: 'x86', ppc64: 'ppc64', s390x: 's390x' };

async function readOr(path: string): Promise<string | undefined> {
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch {
    return undefined;
  }
}

/** host.id is /etc/machine-id, else the first non-loopback MAC address, else the host name. */
export async function hostIdentity(): Promise<HostIdentity> {
  const machineId = (await readOr('/etc/machine-id')) || (await readOr('/var/lib/dbus/machine-id'));
  const osRelease = await readOr('/etc/os-release');
  return {
    'host.id': machineId || firstMac(os.networkInterfaces()) || os.hostname(),
    'host.name': os.hostname(),
    'host.arch': OTEL_ARCH[process.arch] ?? process.arch,
    'os.type': otelOsType(process.platform),
    'os.description': `${(osRelease && prettyName(osRelease)) || os.type()} (${os.type()} ${os.release()})`,
  };
}

/** The detected identity with what the configured resource attributes say of the same keys (strings only). */
export function labelledIdentity(detected: HostIdentity, attributes: Readonly<Record<string, unknown>>): HostIdentity {
  const out = { ...detected };
  for (const k of Object.keys(out) as (keyof HostIdentity)[]) {
    const v = attributes[k];
    if (typeof v === 'string' && v !== '') out[k] = v;
  }
  return out;
}
