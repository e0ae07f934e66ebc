import { isIPv4, isIPv6 } from 'node:net';

/**
 * Addresses in the config (http.host, kafka.brokers, URLs, listen addresses), checked when the
 * file is validated, so `999.1.1.1` is refused naming its key instead of failing at bind or connect.
 * Pure: nothing is resolved or dialled.
 */

export const HOST_HINT = 'use an IPv4 address such as 127.0.0.1 or 0.0.0.0, an IPv6 address such as ::1, or a host name such as kafka-1.example.com';

const LABEL = /^[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/;

/** Why `host` is no IP address or host name (`999.1.1.1`, `a..b`, `-x`), or undefined. */
export function hostProblem(host: string): string | undefined {
  const bad = `"${host}" is not an address (${HOST_HINT})`;
  if (host === '') return `"" is not an address (${HOST_HINT})`;
  if (host.includes(':')) return isIPv6(host) ? undefined : `"${host}" is not an IPv6 address (${HOST_HINT})`;
  if (/^[0-9.]+$/.test(host)) return isIPv4(host) ? undefined : `"${host}" is not an IPv4 address: four numbers from 0 to 255 (${HOST_HINT})`;
  if (host.length > 253) return `"${host.slice(0, 40)}..." is longer than the 253 characters a host name may have`;
  const labels = host.replace(/\.$/, '').split('.');
  // A name whose last label is all digits would be read as an IPv4 address by resolvers.
  if (!labels.every((l) => LABEL.test(l)) || /^\d+$/.test(labels[labels.length - 1]!)) return bad;
  return undefined;
}

/** Why `port` (as written) is no TCP port a client can dial (1 to 65535), or undefined. */
export function portProblem(port: string, allowZero = false): string | undefined {
  const n = /^\d{1,5}$/.test(port) ? Number(port) : Number.NaN;
  if (Number.isInteger(n) && n <= 65535 && (allowZero || n > 0)) return undefined;
  return `port "${port}" is not a port (use a whole number from ${allowZero ? 0 : 1} to 65535)`;
}

/**
 * Why `text` is no `host:port` (IPv6 in brackets: `[::1]:9092`), or undefined. `allowZero` for a
 * listen address, where port 0 asks for any free port.
 */
export function hostPortProblem(text: string, allowZero = false): string | undefined {
  const i = text.lastIndexOf(':');
  if (i <= 0) return `"${text}" is not host:port (e.g. 127.0.0.1:9092, [::1]:9092)`;
  const rawHost = text.slice(0, i);
  const bracketed = /^\[(.*)\]$/.exec(rawHost);
  if (!bracketed && rawHost.includes(':')) return `"${text}" is not host:port (write an IPv6 address in brackets: [::1]:9092)`;
  const host = bracketed ? bracketed[1]! : rawHost;
  if (bracketed && !isIPv6(host)) return `"${text}": "${host}" in brackets is not an IPv6 address`;
  const h = hostProblem(host);
  if (h) return `"${text}": ${h}`;
  const p = portProblem(text.slice(i + 1), allowZero);
  return p ? `"${text}": ${p}` : undefined;
}

/** Why `text` is no http(s) URL with a usable host and port, or undefined. */
export function httpUrlProblem(text: string): string | undefined {
  // Credentials may come from the environment: never shown.
  const shown = text.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^@/?#]*@/i, '$1***@');
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return `"${shown}" is not a URL (e.g. http://127.0.0.1:8123)`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `"${shown}" is not an http:// or https:// URL`;
  // WHATWG URL parsing rewrites hosts (`999.1.1.1` fails, but `0x7f.1` becomes 127.0.0.1), so the host is checked as written.
  const written = /^[a-z]+:\/\/(?:[^@/?#]*@)?(\[[^\]]*\]|[^:/?#]*)/i.exec(text)?.[1] ?? url.hostname;
  const host = written.replace(/^\[(.*)\]$/, '$1');
  const h = hostProblem(host);
  return h ? `"${shown}": the host ${h}` : undefined;
}
