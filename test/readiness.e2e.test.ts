import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { eventually, freePort } from './harness/index.js';

/**
 * Readiness counts only what a role uses: `vigil query-api` reads ClickHouse and never talks to
 * Kafka, so it is ready (a Kubernetes readiness probe passes) with no broker anywhere; `vigil
 * ingest` with the same unreachable broker is not, and says why.
 */
describe('readiness per role', () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  async function run(role: string): Promise<{ status: number; body: { status: string; checks: Record<string, { status: string; detail?: string }> } }> {
    const dir = mkdtempSync(join(os.tmpdir(), `vigil-ready-${role}-`));
    dirs.push(dir);
    const port = await freePort();
    const deadBroker = `127.0.0.1:${await freePort()}`;
    const child = spawn(process.execPath, ['packages/cli/bin/vigil.mjs', role], {
      env: { ...process.env, VIGIL_PORT: String(port), VIGIL_DATA_DIR: dir, KAFKA_BROKERS: deadBroker, LOG_LEVEL: 'error' },
      stdio: 'ignore',
    });
    try {
      await eventually('the HTTP server', async () => (await fetch(`http://127.0.0.1:${port}/health/live`)).status, (s) => s === 200, 60_000, 200);
      // Time for storage to open and the schema to be applied.
      return await eventually(
        `${role} settled`,
        async () => {
          const res = await fetch(`http://127.0.0.1:${port}/health`);
          return { status: res.status, body: (await res.json()) as { status: string; checks: Record<string, { status: string; detail?: string }> } };
        },
        (r) => r.body.checks.clickhouse?.status === 'up' && (r.body.checks.roles?.status === 'up' || r.body.checks.kafka?.status === 'down'),
        60_000,
        250,
      );
    } finally {
      child.kill('SIGKILL');
    }
  }

  it('a query API alone is ready without Kafka; ingest with an unreachable broker is not', async () => {
    const api = await run('query-api');
    expect(api.status).toBe(200);
    expect(api.body.checks.kafka).toBeUndefined();
    const ingest = await run('ingest');
    expect(ingest.status).toBe(503);
    expect(ingest.body.checks.kafka).toMatchObject({ status: 'down' });
  }, 180_000);
});
