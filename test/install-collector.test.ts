import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseConfig } from '@vigil/platform';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const SCRIPT = join(import.meta.dirname, '..', 'deploy', 'install-collector.sh');
const VIGIL = join(import.meta.dirname, '..', 'packages', 'cli', 'bin', 'vigil.mjs');
const tmp = mkdtempSync(join(os.tmpdir(), 'vigil-install-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function script(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run('bash', [SCRIPT, ...args], { timeout: 30_000, env: { ...process.env, ...env } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

const dirs = ['--prefix', join(tmp, 'opt'), '--config-dir', join(tmp, 'etc'), '--unit-dir', join(tmp, 'units')];

describe('deploy/install-collector.sh', () => {
  it('parses (bash -n)', async () => {
    await expect(run('bash', ['-n', SCRIPT])).resolves.toBeDefined();
  });

  it('--dry-run prints every step and the config, and changes nothing', async () => {
    const r = await script(['--dry-run', '--brokers', 'k1:9092,k2:9093', '--label', 'site=store-12', '--label', 'env=prod', ...dirs]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    for (const step of ['mkdir -p', `write ${join(tmp, 'etc')}/collector.yaml`, 'validate', `${join(tmp, 'units')}/vigil-collector.service`, 'systemctl daemon-reload', 'systemctl enable --now vigil-collector.service']) {
      expect(r.stdout).toContain(step);
    }
    expect(existsSync(join(tmp, 'opt'))).toBe(false);
    expect(existsSync(join(tmp, 'etc'))).toBe(false);
    expect(existsSync(join(tmp, 'units'))).toBe(false);
  });

  it('writes a collector config that `vigil validate` accepts, with the brokers, labels and OTLP intake given', async () => {
    const r = await script(['--dry-run', '--brokers', 'k1:9092,k2:9093', '--label', 'site=store 12', '--label', 'env=prod', '--http-port', '9100', ...dirs]);
    const text = /^----- .*\n([\s\S]*?)\n-----$/m.exec(r.stdout)?.[1];
    expect(text, r.stdout).toBeDefined();
    const file = join(tmp, 'collector.yaml');
    writeFileSync(file, text!);
    const v = await run(process.execPath, [VIGIL, 'validate', file], { timeout: 60_000 });
    expect(v.stdout).toContain('OK');
    const config = parseConfig(text!, { env: {} });
    expect(config.kafka.brokers).toEqual(['k1:9092', 'k2:9093']);
    expect(config.collector.labels).toEqual({ site: 'store 12', env: 'prod' });
    expect(config.http.port).toBe(9100);
    expect(config.collector.plugins).toEqual([{ type: 'otlp', listen: '127.0.0.1:4318' }]);
    expect(config.dataDir).toBe('/var/lib/vigil-collector');
  });

  it.each([
    [[], '--brokers is required'],
    [['--brokers', 'kafka'], '--brokers: "kafka" is not host:port'],
    [['--brokers', 'k:9092', '--label', 'site'], '--label: "site" is not KEY=VALUE'],
    [['--brokers', 'k:9092', '--label', '1x=a'], '--label: "1x" is not a label name'],
    [['--brokers', 'k:9092', '--http-port', '99999'], '--http-port: "99999" is not a port'],
    [['--brokers', 'k:9092', '--bogus'], 'unknown option "--bogus"'],
  ])('refuses %j with a message saying what is wrong', async (args, message) => {
    const r = await script(['--dry-run', ...args, ...dirs]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(message);
  });
});

/**
 * Upgrades and --uninstall, for real in a temporary tree: releases are small stand-in tarballs
 * (their `vigil validate` and bundle build are stubs that say which version they are), systemctl
 * a stand-in that logs its calls, and the collector's /health/live a loopback server.
 */
describe('deploy/install-collector.sh: upgrade and uninstall', () => {
  const root = mkdtempSync(join(os.tmpdir(), 'vigil-upgrade-'));
  const d = { prefix: join(root, 'opt', 'vigil'), etc: join(root, 'etc'), units: join(root, 'units'), state: join(root, 'state', 'vigil-collector') };
  const calls = join(root, 'systemctl.log');
  const systemctl = join(root, 'systemctl');
  const env = { SYSTEMCTL: systemctl, VIGIL_COLLECTOR_STATE_DIR: d.state };
  const flags = ['--brokers', 'k1:9092', '--label', 'site=store-12', '--prefix', d.prefix, '--config-dir', d.etc, '--unit-dir', d.units, '--health-timeout', '3'];
  let health: Server;
  let healthStatus = 200;
  let port = 0;

  /** A release tarball whose validate accepts or refuses every config. */
  async function release(version: string, validate: 'accepts' | 'refuses' = 'accepts'): Promise<string> {
    const top = join(root, 'src', `vigil-${version}`);
    mkdirSync(join(top, 'packages', 'cli', 'bin'), { recursive: true });
    mkdirSync(join(top, 'scripts'), { recursive: true });
    writeFileSync(join(top, 'VERSION'), `${version}\n`);
    writeFileSync(
      join(top, 'packages', 'cli', 'bin', 'vigil.mjs'),
      `const [cmd, file] = process.argv.slice(2);\nif (cmd !== 'validate') process.exit(64);\n${validate === 'refuses' ? `console.error(file + ': ${version} refuses it'); process.exit(2);` : `console.log(file + ': OK (${version})');`}\n`,
    );
    writeFileSync(
      join(top, 'scripts', 'build-collector.mjs'),
      "import { mkdirSync, writeFileSync } from 'node:fs';\nconst dist = new URL('../dist/', import.meta.url);\nmkdirSync(dist, { recursive: true });\nwriteFileSync(new URL('vigil-collector.mjs', dist), '// bundle\\n');\n",
    );
    const tarball = join(root, `vigil-${version}.tar.gz`);
    await run('tar', ['-czf', tarball, '-C', join(root, 'src'), `vigil-${version}`]);
    return tarball;
  }
  const version = (dir: string) => (existsSync(join(dir, 'VERSION')) ? readFileSync(join(dir, 'VERSION'), 'utf8').trim() : undefined);
  const systemctlCalls = () => (existsSync(calls) ? readFileSync(calls, 'utf8').trim().split('\n').filter(Boolean) : []);
  const since = (n: number) => systemctlCalls().slice(n);
  const stateFiles = { 'spool/00000000000000000000.seg': 'spooled records', 'collector/app-logs/checkpoints.json': '{"abc":1234}' };
  const stateIntact = () => Object.entries(stateFiles).every(([f, text]) => existsSync(join(d.state, f)) && readFileSync(join(d.state, f), 'utf8') === text);

  beforeAll(async () => {
    writeFileSync(systemctl, `#!/bin/sh\necho "$*" >> ${calls}\n`, { mode: 0o755 });
    health = createServer((req, res) => res.writeHead(req.url === '/health/live' ? healthStatus : 404).end());
    await new Promise<void>((r) => health.listen(0, '127.0.0.1', r));
    port = (health.address() as AddressInfo).port;
    flags.push('--http-port', String(port));
  });
  afterAll(async () => {
    await new Promise((r) => health.close(r));
    rmSync(root, { recursive: true, force: true });
  });

  it('installs a release: the bundle, the config, the unit, enabled and started, and waits for /health/live', async () => {
    const r = await script([...flags, '--tarball', await release('v1')], env);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(version(d.prefix)).toBe('v1');
    expect(existsSync(join(d.prefix, 'dist', 'vigil-collector.mjs'))).toBe(true);
    expect(readFileSync(join(d.etc, 'collector.yaml'), 'utf8')).toContain(`port: ${port}`);
    const unit = readFileSync(join(d.units, 'vigil-collector.service'), 'utf8');
    expect(unit).toContain(`ExecStart=${process.execPath} --max-semi-space-size=1 ${d.prefix}/dist/vigil-collector.mjs collector --config ${d.etc}/collector.yaml`);
    expect(systemctlCalls()).toEqual(['daemon-reload', 'enable --now vigil-collector.service']);
    for (const [f, text] of Object.entries(stateFiles)) {
      mkdirSync(join(d.state, f, '..'), { recursive: true });
      writeFileSync(join(d.state, f), text);
    }
  });

  it('upgrades in place: staged, stopped, swapped, started; spool, checkpoints and config kept', async () => {
    const config = readFileSync(join(d.etc, 'collector.yaml'), 'utf8');
    const n = systemctlCalls().length;
    const r = await script([...flags, '--tarball', await release('v2')], env);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`${d.prefix} holds a Vigil: upgrading it`);
    expect(r.stdout).toContain(`upgraded; the previous version is in ${d.prefix}.previous`);
    expect(version(d.prefix)).toBe('v2');
    expect(version(`${d.prefix}.previous`)).toBe('v1');
    expect(existsSync(`${d.prefix}.new`)).toBe(false);
    expect(since(n)).toEqual(['stop vigil-collector.service', 'daemon-reload', 'enable --now vigil-collector.service']);
    expect(stateIntact()).toBe(true);
    // Same flags: the config is the one in effect, and no collector.yaml.new is left beside it.
    expect(readFileSync(join(d.etc, 'collector.yaml'), 'utf8')).toBe(config);
    expect(existsSync(join(d.etc, 'collector.yaml.new'))).toBe(false);
  });

  it('refuses an upgrade whose version does not accept the installed config, before stopping anything', async () => {
    const n = systemctlCalls().length;
    const r = await script([...flags, '--label', 'env=prod', '--tarball', await release('v3', 'refuses')], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${d.etc}/collector.yaml: v3 refuses it`);
    expect(r.stderr).toContain('the new version does not accept');
    expect(r.stderr).toContain('nothing was changed and the installed version keeps running');
    expect(version(d.prefix)).toBe('v2');
    expect(existsSync(`${d.prefix}.new`)).toBe(false);
    expect(since(n)).toEqual([]);
    // Other flags than the config in effect: written beside it, not over it.
    expect(readFileSync(join(d.etc, 'collector.yaml.new'), 'utf8')).toContain('env: "prod"');
    expect(readFileSync(join(d.etc, 'collector.yaml'), 'utf8')).not.toContain('env: "prod"');
  });

  it('rolls back an upgrade that does not answer /health/live in time', async () => {
    healthStatus = 503;
    const n = systemctlCalls().length;
    try {
      const r = await script([...flags, '--tarball', await release('v4')], env);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`the new version did not answer /health/live within 3s; the previous version is back in ${d.prefix} and started (the new one is in ${d.prefix}.failed`);
    } finally {
      healthStatus = 200;
    }
    expect(version(d.prefix)).toBe('v2');
    expect(version(`${d.prefix}.failed`)).toBe('v4');
    expect(since(n)).toEqual(['stop vigil-collector.service', 'daemon-reload', 'enable --now vigil-collector.service', 'stop vigil-collector.service', 'start vigil-collector.service']);
    expect(stateIntact()).toBe(true);
  });

  it('--uninstall --dry-run says what it would remove and removes nothing', async () => {
    const r = await script(['--uninstall', '--dry-run', '--prefix', d.prefix, '--config-dir', d.etc, '--unit-dir', d.units], env);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`[dry-run] ${systemctl} disable --now vigil-collector.service`);
    expect(r.stdout).toContain(`[dry-run] rm -rf ${d.prefix} ${d.prefix}.new ${d.prefix}.previous ${d.prefix}.failed`);
    expect(existsSync(join(d.units, 'vigil-collector.service'))).toBe(true);
    expect(version(d.prefix)).toBe('v2');
  });

  it('--uninstall removes the service and Vigil, and keeps the config, secrets, spool and checkpoints', async () => {
    const n = systemctlCalls().length;
    const r = await script(['--uninstall', '--prefix', d.prefix, '--config-dir', d.etc, '--unit-dir', d.units], env);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(since(n)).toEqual(['disable --now vigil-collector.service', 'daemon-reload']);
    expect(existsSync(join(d.units, 'vigil-collector.service'))).toBe(false);
    for (const p of [d.prefix, `${d.prefix}.previous`, `${d.prefix}.failed`]) expect(existsSync(p), p).toBe(false);
    expect(existsSync(join(d.etc, 'collector.yaml'))).toBe(true);
    expect(existsSync(join(d.etc, 'collector.env'))).toBe(true);
    expect(stateIntact()).toBe(true);
    expect(r.stdout).toContain('--uninstall --purge removes them');
  });

  it('--uninstall --purge removes the config, secrets, spool and checkpoints too', async () => {
    const r = await script(['--uninstall', '--purge', '--prefix', d.prefix, '--config-dir', d.etc, '--unit-dir', d.units], env);
    expect(r.code).toBe(0);
    expect(existsSync(d.state)).toBe(false);
    expect(existsSync(d.etc)).toBe(false);
  });

  it('refuses --purge without --uninstall', async () => {
    const r = await script(['--purge', '--brokers', 'k:9092', '--dry-run'], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('--purge goes with --uninstall');
  });
});
