import { describe, expect, it } from 'vitest';
import { envName, literalSecretProblem } from '../src/config/secrets.js';

const at = (...path: (string | number)[]) => path;

describe('literalSecretProblem: keys that name a secret', () => {
  it.each(['hunter2', 'pre${PW}', '${PW:-hunter2}'])('refuses %j, without showing it', (raw) => {
    const p = literalSecretProblem(at('clickhouse', 'password'), raw);
    expect(p).toMatch(/^secrets must come from the environment, not the file: ".*\*\*\*.*" is written there/);
    expect(p).not.toContain('hunter2');
    expect(p).toContain('write ${PASSWORD} without a default');
  });

  it('says when the secret is a default', () => {
    expect(literalSecretProblem(at('token'), '${T:-abc}')).toContain('(a ${VAR:-default} default is written in the file too)');
  });

  it.each(['${PW}', '${A}${B}', '', '${PW:-}', ' ${PW} '])('accepts %j', (raw) => {
    expect(literalSecretProblem(at('clickhouse', 'password'), raw)).toBeUndefined();
  });

  it('reads every secret-like key name', () => {
    for (const key of ['password', 'authToken', 'signingSecret', 'apiKey', 'api_key', 'token', 'basicAuth']) expect(literalSecretProblem(at('x', key), 'v')).toBeDefined();
    for (const key of ['username', 'name', 'url', 'from']) expect(literalSecretProblem(at('x', key), 'v')).toBeUndefined();
  });
});

describe('literalSecretProblem: headers', () => {
  const header = (name: string, raw: string) => literalSecretProblem(at('notifier', 'receivers', 0, 'webhook', 0, 'headers', name), raw);

  it.each([
    ['Authorization', 'Bearer abc', 'Bearer ***'],
    ['authorization', 'Basic dXNlcjpwYXNz', 'Basic ***'],
    ['Authorization', 'Bearer ${T:-abc}', 'Bearer ***'],
    ['Authorization', 'abc', '***'],
    ['X-Api-Key', 'abc', '***'],
    ['X-Auth-Token', 'abc', '***'],
    ['Cookie', 'session=abc', '***'],
    ['X-Custom', 'Bearer abc', 'Bearer ***'],
    ['Authorization', 'Bearer ${T} extra', 'Bearer ***'],
  ])('refuses %s: %j, showing %j', (name, raw, shown) => {
    const p = header(name, raw);
    expect(p).toContain(`header value "${shown}" carries a credential written in the file`);
    expect(p).not.toMatch(/abc|dXNlcjpwYXNz/);
  });

  it.each([
    ['Authorization', 'Bearer ${HOOK_TOKEN}'],
    ['Authorization', '${AUTH_HEADER}'],
    ['X-Api-Key', '${KEY}'],
    ['X-Source', 'vigil'],
    ['Content-Language', 'en'],
  ])('accepts %s: %j', (name, raw) => {
    expect(header(name, raw)).toBeUndefined();
  });

  it('suggests a variable named after the header', () => {
    expect(header('Authorization', 'Bearer abc')).toContain('(write "Bearer ${AUTHORIZATION}" and set AUTHORIZATION)');
    expect(envName('X-Api-Key')).toBe('X_API_KEY');
    expect(envName('authToken')).toBe('AUTH_TOKEN');
  });
});

describe('literalSecretProblem: URL credentials', () => {
  const url = (raw: string) => literalSecretProblem(at('clickhouse', 'url'), raw);

  it.each([
    ['https://user:pass@host:8443/x', 'https://user:***@host:8443/x'],
    ['postgres://app:s3cret@db:5432/orders', 'postgres://app:***@db:5432/orders'],
    ['redis://:pw@cache:6379', 'redis://:***@cache:6379'],
    ['https://user:${PW:-pass}@host', 'https://user:***@host'],
    ['https://${USER}:pass@host', 'https://${USER}:***@host'],
  ])('refuses %j, showing %j', (raw, shown) => {
    const p = url(raw);
    expect(p).toContain(`"${shown}" has a password written in the URL`);
    expect(p).not.toMatch(/pass@|s3cret|pw@/);
  });

  it.each(['https://user:${PW}@host', 'https://${USER}:${PW}@host', 'https://user@host', 'https://host:8443/a@b', 'http://127.0.0.1:8123', '${CLICKHOUSE_URL}'])(
    'accepts %j',
    (raw) => {
      expect(url(raw)).toBeUndefined();
    },
  );
});
