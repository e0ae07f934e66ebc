import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect as netConnect } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { httpVerdict, tlsDaysLeft, type Outcome } from './state.js';

// The database clients are loaded at the first check that needs them: a collector without
// database probes does not carry them (redis alone is ~600 modules, ~10 MiB of memory).
const loadPg = () => import('pg').then((m) => m.default);
const loadRedis = () => import('redis');
export const loadMysql = () => import('mysql2/promise').then((m) => m.default);

/**
 * What is wrong with a database URL that the drivers would only find when connecting: not a URL,
 * or a user, password or database with a malformed %-escape (`%zz`). Undefined when it is fine.
 */
export function databaseUrlProblem(url: string): string | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return 'not a URL';
  }
  if (!u.hostname) return 'names no host';
  for (const [part, text] of [['user', u.username], ['password', u.password], ['database', u.pathname.slice(1)]] as const) {
    try {
      decodeURIComponent(text);
    } catch {
      return `its ${part} has a malformed %-escape (write a literal % as %25)`;
    }
  }
  return undefined;
}

/**
 * Connection options of a mysql:// or mariadb:// URL (user, password, host, port, database);
 * `password` replaces the URL's own when given.
 */
export function mysqlOptions(url: string, timeoutMs: number, password = ''): import('mysql2/promise').ConnectionOptions {
  const u = new URL(url);
  return {
    host: u.hostname.replace(/^\[|\]$/g, ''),
    port: u.port ? Number(u.port) : 3306,
    user: decodeURIComponent(u.username),
    password: password || decodeURIComponent(u.password),
    ...(u.pathname.length > 1 ? { database: decodeURIComponent(u.pathname.slice(1)) } : {}),
    connectTimeout: timeoutMs,
    // Numbers as numbers (a count() is a BIGINT), dates as Date; one statement per query.
    supportBigNumbers: true,
    multipleStatements: false,
  };
}

/**
 * The checks, one per kind: each connects to the real thing, times it, and returns an Outcome.
 * A check never throws: a failure is an Outcome with `error`.
 */

export interface HttpCheck {
  url: string;
  method: string;
  headers: Record<string, string>;
  timeoutMs: number;
  expectStatus: readonly number[];
  bodyMatch?: RegExp;
  /** PEM of the CA that signed the server's certificate (besides the system's). */
  ca?: string;
  insecureSkipVerify: boolean;
}

/** Bodies are read for matching up to this size; the rest is drained unread. */
const MAX_BODY = 1024 * 1024;

const elapsed = (since: number) => performance.now() - since;

function describeError(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e?.code === 'ECONNREFUSED') return 'connection refused';
  if (e?.code === 'ENOTFOUND') return 'host not found';
  if (e?.code === 'ECONNRESET') return 'connection reset';
  const msg = e?.message || String(err);
  return e?.code && !msg.includes(e.code) ? `${msg} (${e.code})` : msg;
}

/** Rejects after `ms` with "no answer within ms" and runs `onTimeout` (to close the socket or client). */
function deadline<T>(work: Promise<T>, ms: number, onTimeout: () => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onTimeout();
      reject(new Error(`no answer within ${ms} ms`));
    }, ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

export async function httpCheck(c: HttpCheck): Promise<Outcome> {
  const began = performance.now();
  let statusCode: number | undefined;
  let tlsDays: number | undefined;
  const https = c.url.startsWith('https:');
  const send = https ? httpsRequest : httpRequest;
  // A fresh connection each time (agent: false): the latency includes connecting, as a user's
  // first request would, and the certificate is read from this very handshake.
  const req = send(c.url, {
    method: c.method,
    headers: { 'user-agent': 'vigil-probe', ...c.headers },
    agent: false,
    ...(https ? { ca: c.ca, rejectUnauthorized: !c.insecureSkipVerify } : {}),
  });
  const answered = new Promise<string | undefined>((resolve, reject) => {
    req.on('error', reject);
    req.on('response', (res: IncomingMessage) => {
      statusCode = res.statusCode ?? 0;
      if (https) {
        const cert = (res.socket as TLSSocket).getPeerCertificate?.();
        if (cert?.valid_to) tlsDays = tlsDaysLeft(cert.valid_to, Date.now());
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        if (c.bodyMatch && size < MAX_BODY) {
          chunks.push(chunk);
          size += chunk.length;
        }
      });
      res.on('end', () => resolve(c.bodyMatch ? Buffer.concat(chunks).subarray(0, MAX_BODY).toString('utf8') : undefined));
      res.on('error', reject);
    });
    req.end();
  });
  try {
    const body = await deadline(answered, c.timeoutMs, () => req.destroy());
    const latencyMs = elapsed(began);
    const error = httpVerdict(statusCode ?? 0, body, c.expectStatus, c.bodyMatch);
    return { latencyMs, error, statusCode, tlsDaysLeft: tlsDays };
  } catch (err) {
    return { latencyMs: elapsed(began), error: describeError(err), statusCode, tlsDaysLeft: tlsDays };
  }
}

export async function tcpCheck(url: string, timeoutMs: number): Promise<Outcome> {
  const u = new URL(url);
  const began = performance.now();
  const socket = netConnect({ host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port) });
  try {
    await deadline(
      new Promise<void>((resolve, reject) => {
        socket.once('connect', resolve);
        socket.once('error', reject);
      }),
      timeoutMs,
      () => socket.destroy(),
    );
    return { latencyMs: elapsed(began) };
  } catch (err) {
    return { latencyMs: elapsed(began), error: describeError(err) };
  } finally {
    socket.destroy();
  }
}

/** Connects and runs `SELECT 1`: the database answers queries, not only accepts connections. */
export async function postgresCheck(url: string, timeoutMs: number): Promise<Outcome> {
  const pg = await loadPg();
  const began = performance.now();
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: timeoutMs, query_timeout: timeoutMs, application_name: 'vigil-probe' });
  client.on('error', () => {}); // a dropped connection after the check is not this check's business
  try {
    await deadline(
      (async () => {
        await client.connect();
        const r = await client.query('SELECT 1 AS ok');
        if (r.rows[0]?.ok !== 1) throw new Error('SELECT 1 did not return 1');
      })(),
      timeoutMs,
      () => void client.end().catch(() => {}),
    );
    return { latencyMs: elapsed(began) };
  } catch (err) {
    return { latencyMs: elapsed(began), error: describeError(err) };
  } finally {
    await client.end().catch(() => {});
  }
}

/** Connects and runs `SELECT 1` on MySQL or MariaDB. */
export async function mysqlCheck(url: string, timeoutMs: number): Promise<Outcome> {
  const mysql = await loadMysql();
  const began = performance.now();
  // `over`: the check has answered; a connection that completes after that is closed at once.
  const held: { conn?: import('mysql2/promise').Connection; over?: boolean } = {};
  try {
    await deadline(
      (async () => {
        const conn = (held.conn = await mysql.createConnection(mysqlOptions(url, timeoutMs)));
        if (held.over) return void conn.destroy();
        const [rows] = await conn.query({ sql: 'SELECT 1 AS ok', timeout: timeoutMs });
        if ((rows as { ok: number }[])[0]?.ok !== 1) throw new Error('SELECT 1 did not return 1');
      })(),
      timeoutMs,
      () => held.conn?.destroy(),
    );
    return { latencyMs: elapsed(began) };
  } catch (err) {
    return { latencyMs: elapsed(began), error: describeError(err) };
  } finally {
    held.over = true;
    held.conn?.destroy();
  }
}

/** Connects and sends PING, expecting PONG. */
export async function redisCheck(url: string, timeoutMs: number): Promise<Outcome> {
  const { createClient } = await loadRedis();
  const began = performance.now();
  const client = createClient({ url, socket: { connectTimeout: timeoutMs, reconnectStrategy: false }, disableOfflineQueue: true });
  let lastError: Error | undefined;
  client.on('error', (err: Error) => (lastError = err));
  try {
    await deadline(
      (async () => {
        await client.connect();
        const pong = await client.ping();
        if (pong !== 'PONG') throw new Error(`PING answered ${String(pong)}`);
      })(),
      timeoutMs,
      () => client.destroy(),
    );
    return { latencyMs: elapsed(began) };
  } catch (err) {
    return { latencyMs: elapsed(began), error: describeError(lastError && (err as Error).message === 'Socket closed unexpectedly' ? lastError : err) };
  } finally {
    if (client.isOpen) client.destroy();
  }
}
