import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './kafka-jvm.js';

const PG_BIN = '/usr/lib/postgresql/15/bin';

export interface TestPostgres {
  port: number;
  /** postgres://postgres@127.0.0.1:<port>/<db> */
  url(db?: string): string;
  /** Runs SQL with psql as the postgres user. */
  psql(sql: string, db?: string): string;
  /** Stops the server at once (as a crash would); `start` brings it back on the same port and data. */
  stop(): void;
  start(): void;
  /** Stops it and removes its data. */
  close(): void;
}

/**
 * A throwaway PostgreSQL cluster from the Debian package (scripts/test-peers.sh installs it), on a
 * free loopback port. As root, initdb and postgres run as the postgres user.
 */
export async function startPostgres(): Promise<TestPostgres> {
  if (!existsSync(`${PG_BIN}/initdb`)) throw new Error(`${PG_BIN}/initdb is missing: install the Debian package postgresql-15 (scripts/test-peers.sh does)`);
  const dir = mkdtempSync(join(tmpdir(), 'vigil-pg-'));
  const data = join(dir, 'data');
  const port = await freePort();
  const asPostgres = process.getuid?.() === 0 ? ['runuser', '-u', 'postgres', '--'] : [];
  if (asPostgres.length > 0) chownSync(dir, Number(execFileSync('id', ['-u', 'postgres']).toString()), Number(execFileSync('id', ['-g', 'postgres']).toString()));
  const run = (args: string[], input?: string) =>
    execFileSync(asPostgres[0] ?? args[0]!, asPostgres.length > 0 ? asPostgres.slice(1).concat(args) : args.slice(1), { stdio: 'pipe', ...(input !== undefined ? { input } : {}) }).toString();
  run([`${PG_BIN}/initdb`, '-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync']);
  let running = false;
  const start = () => {
    run([`${PG_BIN}/pg_ctl`, '-D', data, '-w', '-l', join(dir, 'pg.log'), '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`, 'start']);
    running = true;
  };
  const stop = () => {
    if (!running) return;
    run([`${PG_BIN}/pg_ctl`, '-D', data, '-m', 'immediate', 'stop']);
    running = false;
  };
  start();
  return {
    port,
    url: (db = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${db}`,
    psql: (sql, db = 'postgres') => run([`${PG_BIN}/psql`, '-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-d', db, '-v', 'ON_ERROR_STOP=1', '-X', '-q', '-A', '-t', '-c', sql]),
    stop,
    start,
    close() {
      try {
        stop();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
