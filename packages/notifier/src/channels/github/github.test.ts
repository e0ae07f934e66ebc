import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, type AlertTransition } from '@vigil/platform';
import { DeliveryError } from '../channel.js';
import type { AlertNotification } from '../../model.js';
import { githubChannelConfig, type GithubChannelConfig } from './config.js';
import { startFakeGithub, type FakeGithub } from '../../../test/fake-github.js';
import { githubChannel, trackFromGithub } from './github.js';
import { githubError } from './api.js';
import { issueMarker, noteMarker } from './templates.js';

const TOKEN = 'ghp_test_token';
const REPO = 'acme/ops';
const HOUR = 3_600_000;
let clock = Date.parse('2024-05-01T12:00:00Z');
const now = () => clock;

let gh: FakeGithub;
beforeAll(async () => {
  gh = await startFakeGithub({ token: TOKEN, repo: REPO, now, commentsPerPage: 2 });
});
afterAll(() => gh.close());
beforeEach(() => {
  gh.reset();
  clock = Date.parse('2024-05-01T12:00:00Z');
});

const config = (over: Record<string, unknown> = {}): GithubChannelConfig =>
  githubChannelConfig({ repo: REPO, apiUrl: gh.url, timeout: '2s', ...over }, 'notifier.github[0]', { GITHUB_TOKEN: TOKEN });

const firing: AlertTransition = {
  fingerprint: 'f00dfeedf00dfeed',
  status: 'firing',
  severity: 'critical',
  labels: { alertname: 'app_errors', 'vigil.category': 'database', 'host.name': 'web-1', 'container.name': 'api' },
  annotations: { summary: 'could not connect to postgres', 'exception.stacktrace': 'Error: ECONNREFUSED\n    at connect (db.js:10:3)' },
  startsAt: '2024-05-01T12:00:00.000Z',
  value: 5,
  rule: 'app_errors',
  window: 60_000,
};
const resolved = (a: AlertTransition, endsAt: string): AlertTransition => ({ ...a, status: 'resolved', endsAt });

let seq = 0;
function note(...alerts: AlertTransition[]): AlertNotification {
  seq++;
  return {
    key: `n${seq}`,
    receiver: 'ops',
    groupKey: '{}:{alertname="app_errors"}',
    groupLabels: { alertname: 'app_errors' },
    status: alerts.some((a) => a.status === 'firing') ? 'firing' : 'resolved',
    severity: 'critical',
    alerts,
    commonLabels: {},
    commonAnnotations: {},
    createdAt: new Date(clock).toISOString(),
  };
}
const ctx = () => ({ idempotencyKey: `k${seq}`, signal: new AbortController().signal });
const calls = () => gh.requests.map((r) => `${r.method} ${r.url.replace(`/repos/${REPO}`, '').replace(/\?.*$/, '')}`);
const errorOf = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e as DeliveryError);

describe('github channel against a GitHub-like server', () => {
  it('first firing creates one issue with title, body, labels and the marker', async () => {
    const ch = githubChannel(config(), { now });
    const receipt = await ch.send(note(firing), ctx());
    expect(receipt).toEqual({ providerId: '#1', detail: 'create #1' });
    expect(calls()).toEqual(['GET /issues', 'POST /issues']);
    expect(gh.requests[0]!.url).toContain('labels=vigil%3Af00dfeedf00dfeed&state=all');
    const issue = gh.issues.get(1)!;
    expect(issue.title).toBe('[CRITICAL] database: could not connect to postgres on web-1');
    expect(issue.body).toContain('### Traceback');
    expect(issue.body.endsWith(issueMarker(firing))).toBe(true);
    expect(issue.labels).toEqual(['severity:critical', 'category:database', 'host:web-1', 'container:api', 'vigil:f00dfeedf00dfeed']);
    expect(ch.tracked(firing.fingerprint)).toMatchObject({ number: 1, state: 'open' });
  });

  it('render returns what send would POST, without calling GitHub', () => {
    const ch = githubChannel(config({ labels: ['vigil'] }), { now });
    const r = ch.render(note(firing, { ...firing, fingerprint: 'beefbeefbeefbeef' }));
    expect(gh.requests).toHaveLength(0);
    expect(r.title).toBe('[CRITICAL] database: could not connect to postgres on web-1');
    const issues = r.json as { title: string; body: string; labels: string[] }[];
    expect(issues).toHaveLength(2);
    expect(issues[0]!.body).toBe(r.text);
    expect(issues[1]!.labels).toContain('vigil:beefbeefbeefbeef');
    expect(issues[1]!.labels.at(-1)).toBe('vigil');
  });

  it('recurrence: nothing within the interval, then one comment with the count; a retried notification is not counted twice', async () => {
    const ch = githubChannel(config(), { now });
    await ch.send(note(firing), ctx());
    gh.requests.length = 0;
    clock += 10 * 60_000;
    const again = note(firing);
    await ch.send(again, ctx());
    await ch.send(again, ctx()); // the same notification retried
    clock += 20 * 60_000;
    await ch.send(note(firing), ctx());
    expect(gh.requests).toHaveLength(0);
    expect(gh.issues.get(1)!.comments).toHaveLength(0);
    clock += 31 * 60_000; // one hour and a minute after the issue was opened
    expect(await ch.send(note(firing), ctx())).toEqual({ providerId: '#1', detail: 'comment #1' });
    expect(calls()).toEqual(['POST /issues/1/comments']);
    const [c] = gh.issues.get(1)!.comments;
    expect(c!.body).toContain('**Fired again**: 3 occurrences since 2024-05-01 12:00:00 UTC.');
    expect(c!.body).toContain(noteMarker('recurrence', firing));
    clock += 5 * 60_000;
    await ch.send(note(firing), ctx());
    expect(gh.issues.get(1)!.comments).toHaveLength(1);
    expect(gh.issues.size).toBe(1);
  });

  it('errors are keyed by their error fingerprint: the same error from two rules or hosts is one issue; a recurrence says how often it occurred', async () => {
    const ch = githubChannel(config({ commentInterval: '0s', closeOnResolve: false }), { now });
    const error = (fp: string, host: string, rule: string, severity: 'warning' | 'critical', value: number): AlertTransition => ({
      ...firing,
      fingerprint: fp,
      severity,
      rule,
      labels: { alertname: rule, 'vigil.error.fingerprint': 'e91e9818d6c58510' },
      annotations: { summary: 'database_connection: could not connect to server', 'host.name': host, 'vigil.category': 'database_connection' },
      value,
      unit: '{event}',
      window: 600_000,
    });
    await ch.send(note(error('aaaaaaaaaaaaaaaa', 'api-1', 'error_critical', 'critical', 1)), ctx());
    expect(gh.requests[0]!.url).toContain('labels=vigil%3Ae91e9818d6c58510');
    clock += 60_000;
    await ch.send(note(resolved(error('aaaaaaaaaaaaaaaa', 'api-1', 'error_critical', 'critical', 1), '2024-05-01T12:01:00.000Z')), ctx());
    clock += 60_000;
    // Another rule and host, the same error: a comment on the same issue, with the count.
    await ch.send(note({ ...error('bbbbbbbbbbbbbbbb', 'api-2', 'error_high', 'warning', 4), startsAt: '2024-05-01T12:02:00.000Z' }), ctx());
    expect(gh.issues.size).toBe(1);
    const comments = gh.issues.get(1)!.comments.map((c) => c.body);
    expect(comments).toHaveLength(2);
    expect(comments[1]).toContain('**Fired again**');
    expect(comments[1]).toContain('4 occurrences of this error in the last 10m, latest on `api-2`.');
    expect(ch.tracked('e91e9818d6c58510')).toMatchObject({ number: 1, state: 'open' });
  });

  it('resolve comments and closes as completed; a second resolve does nothing; closeOnResolve off only comments, once', async () => {
    const ch = githubChannel(config(), { now });
    await ch.send(note(firing), ctx());
    clock += 5 * 60_000;
    const r = resolved(firing, '2024-05-01T12:05:00.000Z');
    await ch.send(note(r), ctx());
    const issue = gh.issues.get(1)!;
    expect(issue).toMatchObject({ state: 'closed', state_reason: 'completed' });
    expect(issue.comments.map((c) => c.body.split('\n')[0])).toEqual(['**Resolved** at 2024-05-01 12:05:00 UTC (lasted 5m). Closing; Vigil reopens this issue if it fires again.']);
    gh.requests.length = 0;
    await ch.send(note(r), ctx());
    expect(gh.requests).toHaveLength(0);

    const keep = githubChannel(config({ closeOnResolve: false }), { now });
    const other = { ...firing, fingerprint: '0000000000000002' };
    await keep.send(note(other), ctx());
    await keep.send(note(resolved(other, '2024-05-01T12:06:00.000Z')), ctx());
    await keep.send(note(resolved(other, '2024-05-01T12:06:00.000Z')), ctx());
    expect(gh.issues.get(2)).toMatchObject({ state: 'open' });
    expect(gh.issues.get(2)!.comments).toHaveLength(1);
  });

  it('regression reopens the same issue with a comment, never a second issue', async () => {
    const ch = githubChannel(config(), { now });
    await ch.send(note(firing), ctx());
    clock += 5 * 60_000;
    await ch.send(note(resolved(firing, '2024-05-01T12:05:00.000Z')), ctx());
    clock += 60_000;
    const second = { ...firing, startsAt: '2024-05-01T12:06:00.000Z' };
    expect(await ch.send(note(second), ctx())).toEqual({ providerId: '#1', detail: 'reopen #1' });
    expect(gh.issues.size).toBe(1);
    const issue = gh.issues.get(1)!;
    expect(issue).toMatchObject({ state: 'open', state_reason: 'reopened' });
    expect(issue.comments.at(-1)!.body).toContain('**Regression**: fired again at 2024-05-01 12:06:00 UTC after this issue was closed; reopening.');
  });

  it('reopenOnRegression off: the closed issue stays closed and gets a throttled comment', async () => {
    const ch = githubChannel(config({ reopenOnRegression: false }), { now });
    await ch.send(note(firing), ctx());
    await ch.send(note(resolved(firing, '2024-05-01T12:00:30.000Z')), ctx());
    clock += 2 * HOUR;
    await ch.send(note({ ...firing, startsAt: '2024-05-01T14:00:00.000Z' }), ctx());
    expect(gh.issues.size).toBe(1);
    expect(gh.issues.get(1)!.state).toBe('closed');
    expect(gh.issues.get(1)!.comments.at(-1)!.body).toContain('**Fired again**: 1 occurrence');
  });

  it('a restarted channel (empty cache) finds the open issue and the time of its last comment: no duplicate, no early comment', async () => {
    const first = githubChannel(config(), { now });
    await first.send(note(firing), ctx());
    // Comments from people, then Vigil's recurrence, then more from people: Vigil's note is on the last page of 2.
    gh.issues.get(1)!.comments.push({ id: 1, body: 'looking', created_at: '2024-05-01T12:10:00Z' }, { id: 2, body: 'db restarted', created_at: '2024-05-01T12:20:00Z' });
    clock += HOUR;
    await first.send(note(firing), ctx());
    gh.issues.get(1)!.comments.push({ id: 3, body: 'still?', created_at: '2024-05-01T13:05:00Z' });
    expect(gh.issues.get(1)!.comments).toHaveLength(4);

    clock += 30 * 60_000;
    gh.requests.length = 0;
    const restarted = githubChannel(config(), { now });
    await restarted.send(note(firing), ctx());
    expect(calls()).toEqual(['GET /issues', 'GET /issues/1/comments', 'GET /issues/1/comments']);
    expect(gh.requests[2]!.url).toContain('page=2');
    expect(gh.issues.size).toBe(1);
    expect(gh.issues.get(1)!.comments).toHaveLength(4);
    expect(restarted.tracked(firing.fingerprint)).toMatchObject({ number: 1, state: 'open', lastNoteAt: Date.parse('2024-05-01T13:00:00Z'), pending: 1 });

    clock += 31 * 60_000;
    await restarted.send(note(firing), ctx());
    expect(gh.issues.get(1)!.comments.at(-1)!.body).toContain('**Fired again**: 2 occurrences since 2024-05-01 13:30:00 UTC.');
  });

  it('a restarted channel reopens the closed issue instead of opening another', async () => {
    await githubChannel(config(), { now }).send(note(firing), ctx());
    await githubChannel(config(), { now }).send(note(resolved(firing, '2024-05-01T12:01:00.000Z')), ctx());
    expect(gh.issues.get(1)!.state).toBe('closed');
    clock += 3 * HOUR;
    const fresh = githubChannel(config(), { now });
    await fresh.send(note({ ...firing, startsAt: '2024-05-01T15:00:00.000Z' }), ctx());
    expect(gh.issues.size).toBe(1);
    expect(gh.issues.get(1)!.state).toBe('open');
    // And a restarted channel does not resolve twice.
    const r = resolved({ ...firing, startsAt: '2024-05-01T15:00:00.000Z' }, '2024-05-01T15:10:00.000Z');
    await fresh.send(note(r), ctx());
    const count = gh.issues.get(1)!.comments.length;
    await githubChannel(config(), { now }).send(note(r), ctx());
    expect(gh.issues.get(1)!.comments).toHaveLength(count);
  });

  it('a close that failed after the comment is resumed by the retry without a second comment', async () => {
    const ch = githubChannel(config(), { now });
    await ch.send(note(firing), ctx());
    gh.script.push({ when: (m) => m === 'PATCH', status: 502, body: { message: 'Server Error' } });
    const n = note(resolved(firing, '2024-05-01T12:05:00.000Z'));
    const err = await errorOf(ch.send(n, ctx()));
    expect(err).toBeInstanceOf(DeliveryError);
    expect(err!.permanent).toBe(false);
    expect(err!.message).toBe('GitHub answered HTTP 502 to close acme/ops#1: Server Error (will retry)');
    expect(gh.issues.get(1)!.state).toBe('open');
    await ch.send(n, ctx());
    expect(gh.issues.get(1)).toMatchObject({ state: 'closed' });
    expect(gh.issues.get(1)!.comments).toHaveLength(1);
  });

  it('a group: one issue per alert; a failure on one is retried without redoing the other', async () => {
    const ch = githubChannel(config(), { now });
    const b = { ...firing, fingerprint: 'bbbbbbbbbbbbbbbb', labels: { ...firing.labels, 'host.name': 'web-2' } };
    gh.script.push({ when: (m, url) => m === 'GET' && url.includes('bbbbbbbbbbbbbbbb'), status: 500, body: { message: 'Server Error' } });
    const n = note(firing, b);
    const err = await errorOf(ch.send(n, ctx()));
    expect(err!.permanent).toBe(false);
    expect(gh.issues.size).toBe(1);
    expect(await ch.send(n, ctx())).toEqual({ providerId: '#2', detail: 'create #2' });
    expect(gh.issues.size).toBe(2);
    expect(gh.issues.get(2)!.labels).toContain('host:web-2');
  });

  it('a bad token is a permanent error saying what to do', async () => {
    const ch = githubChannel({ ...config(), token: 'wrong' }, { now });
    const err = await errorOf(ch.send(note(firing), ctx()));
    expect(err).toBeInstanceOf(DeliveryError);
    expect(err!.permanent).toBe(true);
    expect(err!.status).toBe(401);
    expect(err!.message).toBe('GitHub answered HTTP 401 to list issues labelled vigil:f00dfeedf00dfeed in acme/ops: Bad credentials (not retried: the token is missing, expired or revoked; set a valid one)');
    expect(err!.message).not.toContain('wrong');
  });

  it('an unknown repository is a permanent 404', async () => {
    const ch = githubChannel(config({ repo: 'acme/nope' }), { now });
    const err = await errorOf(ch.send(note(firing), ctx()));
    expect([err!.status, err!.permanent]).toEqual([404, true]);
    expect(err!.message).toContain('no such repository or issue');
  });

  it('422 validation failed is permanent and carries GitHub\'s errors', async () => {
    const ch = githubChannel(config(), { now });
    gh.script.push({
      when: (m) => m === 'POST',
      status: 422,
      body: { message: 'Validation Failed', errors: [{ resource: 'Issue', code: 'custom', field: 'body', message: 'body is too long' }, { resource: 'Label', code: 'invalid', field: 'name' }], documentation_url: 'https://docs.github.com/rest' },
    });
    const err = await errorOf(ch.send(note(firing), ctx()));
    expect(err!.permanent).toBe(true);
    expect(err!.message).toBe('GitHub answered HTTP 422 to create an issue in acme/ops: Validation Failed; body is too long; Label name invalid (not retried: GitHub refused the content; check the labels and templates)');
  });

  it('rate limits are transient with the wait GitHub asks for', async () => {
    const ch = githubChannel(config(), { now });
    const reset = Math.floor(clock / 1000) + 120;
    gh.script.push({ status: 403, headers: { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(reset) }, body: { message: 'API rate limit exceeded for user ID 1.' } });
    let err = await errorOf(ch.send(note(firing), ctx()));
    expect([err!.permanent, err!.status, err!.retryAfterMs]).toEqual([false, 403, 120_000]);
    expect(err!.message).toContain('API rate limit used up; will retry after the reset in 120s');

    gh.script.push({ status: 429, headers: { 'retry-after': '30' }, body: { message: 'You have exceeded a secondary rate limit.' } });
    err = await errorOf(ch.send(note(firing), ctx()));
    expect([err!.permanent, err!.status, err!.retryAfterMs]).toEqual([false, 429, 30_000]);

    expect(gh.issues.size).toBe(0);
    await ch.send(note(firing), ctx());
    expect(gh.issues.size).toBe(1);
  });

  it('labels dropped by GitHub (token without push access) still leave one issue for this process', async () => {
    gh.dropLabels = true;
    const ch = githubChannel(config(), { now });
    await ch.send(note(firing), ctx());
    clock += 60_000;
    await ch.send(note(firing), ctx());
    expect(gh.issues.size).toBe(1);
  });
});

describe('githubError (pure)', () => {
  const at = Date.parse('2024-05-01T12:00:00Z');
  const h = (o: Record<string, string> = {}) => new Headers(o);
  it.each([
    [401, {}, true, undefined],
    [403, {}, true, undefined],
    [404, {}, true, undefined],
    [410, {}, true, undefined],
    [422, {}, true, undefined],
    [400, {}, true, undefined],
    [408, {}, false, undefined],
    [500, {}, false, undefined],
    [503, {}, false, undefined],
    [403, { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(at / 1000 + 60) }, false, 60_000],
    [429, { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(at / 1000 - 5) }, false, 0],
    [403, { 'retry-after': '7' }, false, 7_000],
    [429, {}, false, 60_000],
  ] as const)('HTTP %i %o → permanent %s, wait %s', (status, headers, permanent, wait) => {
    const e = githubError('x', status, h(headers), { message: 'm' }, at);
    expect([e.permanent, e.status, e.retryAfterMs]).toEqual([permanent, status, wait]);
  });
  it('a 403 that names a secondary rate limit waits a minute', () => {
    expect(githubError('x', 403, h(), { message: 'You have exceeded a secondary rate limit' }, at).retryAfterMs).toBe(60_000);
  });
});

describe('config', () => {
  it('defaults, and the token from the environment', () => {
    const c = githubChannelConfig({ repo: 'a/b' }, 'n.github', { GITHUB_TOKEN: 't' });
    expect(c).toEqual({ repo: 'a/b', token: 't', apiUrl: 'https://api.github.com', labels: [], commentInterval: HOUR, closeOnResolve: true, reopenOnRegression: true, timeout: 10_000 });
    expect(githubChannelConfig({ repo: 'a/b', token: '${GH_BOT}' }, 'n.github', { GH_BOT: 'u' }).token).toBe('u');
  });
  it('problems name the key', () => {
    const problems = (v: unknown, env: NodeJS.ProcessEnv = { GITHUB_TOKEN: 't' }) => {
      try {
        githubChannelConfig(v, 'f.yaml: notifier.github[0]', env);
      } catch (err) {
        return (err as ConfigError).problems;
      }
      return [];
    };
    expect(problems({ repo: 'a/b' }, {})).toEqual(['f.yaml: notifier.github[0].token: no GitHub token (set the environment variable GITHUB_TOKEN, or write token: ${OTHER_VARIABLE})']);
    expect(problems({ repo: 'nope' })[0]).toMatch(/^f\.yaml: notifier\.github\[0\]\.repo: "nope" does not have the expected form/);
    expect(problems({ repo: 'a/b', commentInterval: '1 hour' })).toEqual(['f.yaml: notifier.github[0].commentInterval: "1 hour" is not a duration (use 30s, 5m, 1h)']);
    expect(problems({ repo: 'a/b', colour: 'red' })[0]).toMatch(/^f\.yaml: notifier\.github\[0\]\.colour: unknown key/);
  });
  it('a channel with a broken template does not start', () => {
    expect(() => githubChannel({ ...githubChannelConfig({ repo: 'a/b' }, 'x', { GITHUB_TOKEN: 't' }), bodyTemplate: '{{#each}}' }, { source: 'x' })).toThrow(ConfigError);
  });
});

describe('trackFromGithub (pure)', () => {
  const issue = { number: 4, state: 'closed' as const, title: 't', body: `b\n\n${issueMarker(firing)}`, created_at: '2024-05-01T12:00:00Z', html_url: 'u', labels: [] };
  it('reads the last Vigil note among the comments', () => {
    const r = resolved(firing, '2024-05-01T12:05:00Z');
    const t = trackFromGithub(issue, [{ id: 1, body: noteMarker('resolved', r), created_at: '2024-05-01T12:05:01Z' }, { id: 2, body: 'thanks', created_at: '2024-05-01T12:09:00Z' }], firing.fingerprint, true, 99);
    expect(t).toMatchObject({ number: 4, state: 'closed', lastNoteAt: Date.parse('2024-05-01T12:05:01Z'), pending: 0, pendingSince: 99 });
    expect(t.appliedKey).toBe(`${firing.fingerprint}:${firing.startsAt}:resolved:critical`);
  });
  it('a resolve comment on an issue still open (the close failed) is commented but not applied', () => {
    const r = resolved(firing, '2024-05-01T12:05:00Z');
    const t = trackFromGithub({ ...issue, state: 'open' }, [{ id: 1, body: noteMarker('resolved', r), created_at: '2024-05-01T12:05:01Z' }], firing.fingerprint, true, 0);
    expect(t.appliedKey).toBeUndefined();
    expect(t.commentedKey).toBe(`${firing.fingerprint}:${firing.startsAt}:resolved:critical`);
  });
  it('without comments, the issue creation is the last note', () => {
    expect(trackFromGithub(issue, [], firing.fingerprint, true, 0).lastNoteAt).toBe(Date.parse('2024-05-01T12:00:00Z'));
  });
});
