import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import { freePort } from './kafka-jvm.js';

export interface TestMariadb {
  port: number;
  /** mysql://<user>@127.0.0.1:<port>/<db> */
  url(db?: string, user?: string): string;
  /** Runs SQL with the mariadb client as root over the socket; returns its tab-separated output. */
  sql(sql: string, db?: string): string;
  /** Stops the server at once (SIGKILL, as a crash would); `start` brings it back on the same port and data. */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops it and removes its data. */
  close(): Promise<void>;
}

const SERVER = '/usr/sbin/mariadbd';

/**
 * A throwaway MariaDB server from the Debian package mariadb-server (scripts/test-peers.sh
 * installs it), on a free loopback port with its socket in a temporary directory. Root has no
 * password and is reached through the socket; tests create their own users. As root, the server
 * runs as the mysql user.
 */
export async function startMariadb(): Promise<TestMariadb> {
  if (!existsSync(SERVER)) throw new Error(`${SERVER} is missing: install the Debian package mariadb-server (scripts/test-peers.sh does)`);
  const dir = mkdtempSync(join(tmpdir(), 'vigil-mariadb-'));
  const asRoot = process.getuid?.() === 0;
  if (asRoot) chownSync(dir, Number(execFileSync('id', ['-u', 'mysql']).toString()), Number(execFileSync('id', ['-g', 'mysql']).toString()));
  const data = join(dir, 'data');
  const socket = join(dir, 'sock');
  const user = asRoot ? ['--user=mysql'] : [];
  execFileSync('mariadb-install-db', ['--no-defaults', `--datadir=${data}`, ...user, '--auth-root-authentication-method=normal', '--skip-test-db', '--skip-name-resolve'], { stdio: 'pipe' });
  const port = await freePort();
  let child: ChildProcess | undefined;

  const start = async () => {
    child = spawn(
      SERVER,
      [
        '--no-defaults',
        `--datadir=${data}`,
        ...user,
        `--port=${port}`,
        '--bind-address=127.0.0.1',
        `--socket=${socket}`,
        `--pid-file=${join(dir, 'pid')}`,
        `--log-error=${join(dir, 'error.log')}`,
        '--skip-name-resolve',
        '--skip-log-bin',
        '--innodb-buffer-pool-size=16M',
        '--innodb-log-file-size=8M',
        '--innodb-flush-log-at-trx-commit=0',
      ],
      { stdio: 'ignore' },
    );
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`mariadbd exited with ${child.exitCode}; see ${join(dir, 'error.log')}`);
      if (await accepts(port)) return;
      if (Date.now() > deadline) throw new Error(`mariadbd did not listen on 127.0.0.1:${port} within 30 s; see ${join(dir, 'error.log')}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const stop = async () => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGKILL');
    await exited;
  };
  await start();
  return {
    port,
    url: (db = '', u = 'root') => `mysql://${u}@127.0.0.1:${port}/${db}`,
    sql: (sql, db) => execFileSync('mariadb', ['--no-defaults', '-S', socket, '-uroot', '-N', '-B', ...(db ? [db] : []), '-e', sql], { stdio: 'pipe' }).toString(),
    stop,
    start,
    async close() {
      try {
        await stop();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}
