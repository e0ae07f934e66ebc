import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseConfig } from '@vigil/platform';
import { afterAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const SCRIPT = join(import.meta.dirname, '..', 'deploy', 'install-collector.sh');
const VIGIL = join(import.meta.dirname, '..', 'packages', 'cli', 'bin', 'vigil.mjs');
const tmp = mkdtempSync(join(os.tmpdir(), 'vigil-install-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function script(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run('bash', [SCRIPT, ...args], { timeout: 30_000 });
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
