import { DeliveryError } from '../channel.js';
import { parseRetryAfter } from '../http-response.js';

/**
 * The few GitHub REST calls the channel makes (issues and issue comments), with fetch, and how
 * GitHub's documented answers map to DeliveryError.
 */

export interface GithubIssue {
  number: number;
  state: 'open' | 'closed';
  title: string;
  body: string | null;
  created_at: string;
  html_url: string;
  labels: (string | { name?: string })[];
  /** How many comments it has. */
  comments?: number;
  pull_request?: unknown;
}

export interface GithubComment {
  id: number;
  body?: string;
  created_at: string;
}

/** GitHub's error body: `{message, documentation_url, errors?: [{resource, field, code, message?}]}`. */
interface GithubErrorBody {
  message?: string;
  errors?: ({ resource?: string; field?: string; code?: string; message?: string } | string)[];
}

/** When GitHub asks a client that exceeded a secondary rate limit without saying how long to wait: at least a minute. */
export const SECONDARY_LIMIT_WAIT_MS = 60_000;

function describeErrors(body: GithubErrorBody): string {
  const parts = (body.errors ?? []).map((e) =>
    typeof e === 'string' ? e : e.message ?? [e.resource, e.field, e.code].filter((x) => x !== undefined).join(' '),
  );
  return [body.message, ...parts].filter((p) => p !== undefined && p !== '').join('; ');
}

/**
 * The error for a non-2xx answer to `what` (e.g. `create issue in acme/ops`). Pure.
 * - 403/429 with `x-ratelimit-remaining: 0`: primary limit, transient until `x-ratelimit-reset` (epoch seconds).
 * - 403/429 with `retry-after`, or a message naming a secondary rate limit: transient (a minute when no header says).
 * - 401, other 403, 404, 410, 422 and other 4xx: permanent (credentials, permissions, repository, payload).
 * - 5xx: transient.
 */
export function githubError(what: string, status: number, headers: Headers, body: GithubErrorBody, nowMs: number): DeliveryError {
  const said = describeErrors(body);
  const detail = said ? `: ${said}` : '';
  const base = `GitHub answered HTTP ${status} to ${what}${detail}`;
  if (status === 403 || status === 429) {
    const remaining = headers.get('x-ratelimit-remaining');
    const reset = Number(headers.get('x-ratelimit-reset'));
    const retryAfter = parseRetryAfter(headers.get('retry-after'), nowMs);
    if (retryAfter !== undefined) {
      return new DeliveryError(`${base} (rate limited; will retry in ${Math.ceil(retryAfter / 1000)}s)`, { permanent: false, status, retryAfterMs: retryAfter });
    }
    if (remaining === '0') {
      const wait = Number.isFinite(reset) && reset > 0 ? Math.max(0, reset * 1000 - nowMs) : SECONDARY_LIMIT_WAIT_MS;
      return new DeliveryError(`${base} (API rate limit used up; will retry after the reset in ${Math.ceil(wait / 1000)}s)`, { permanent: false, status, retryAfterMs: wait });
    }
    if (status === 429 || /rate limit/i.test(body.message ?? '')) {
      return new DeliveryError(`${base} (secondary rate limit; will retry in ${SECONDARY_LIMIT_WAIT_MS / 1000}s)`, { permanent: false, status, retryAfterMs: SECONDARY_LIMIT_WAIT_MS });
    }
    return new DeliveryError(`${base} (not retried: the token may not write issues in this repository; give it Issues read and write)`, { permanent: true, status });
  }
  if (status >= 500) return new DeliveryError(`${base} (will retry)`, { permanent: false, status });
  const hint =
    status === 401
      ? 'the token is missing, expired or revoked; set a valid one'
      : status === 404
        ? 'no such repository or issue, or the token cannot see it; check repo and the token'
        : status === 410
          ? 'issues are disabled in this repository; enable them or choose another repo'
          : status === 422
            ? 'GitHub refused the content; check the labels and templates'
            : status === 408
              ? 'request timeout'
              : 'check repo, apiUrl and the token';
  if (status === 408) return new DeliveryError(`${base} (will retry)`, { permanent: false, status });
  return new DeliveryError(`${base} (not retried: ${hint})`, { permanent: true, status });
}

/** The URL of `rel="last"` in a Link header, if any. */
export function lastPageLink(link: string | null): string | undefined {
  if (!link) return undefined;
  for (const part of link.split(',')) {
    const m = /<([^>]+)>\s*;\s*rel="([^"]+)"/.exec(part);
    if (m && m[2]!.split(/\s+/).includes('last')) return m[1];
  }
  return undefined;
}

export interface GithubApiOptions {
  apiUrl: string;
  repo: string;
  token: string;
  timeoutMs: number;
  now: () => number;
  signal?: AbortSignal;
}

export class GithubApi {
  private readonly root: string;
  private readonly headers: Record<string, string>;

  constructor(private readonly opts: GithubApiOptions) {
    this.root = `${opts.apiUrl.replace(/\/+$/, '')}/repos/${opts.repo}`;
    this.headers = {
      authorization: `Bearer ${opts.token}`,
      accept: 'application/vnd.github+json',
      'x-github-api-version': '2022-11-28',
      'user-agent': 'vigil-notifier',
    };
  }

  private async call<T>(what: string, method: string, url: string, body: unknown, signal: AbortSignal | undefined): Promise<{ data: T; headers: Headers }> {
    const headers: Record<string, string> = { ...this.headers };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const timeout = AbortSignal.timeout(this.opts.timeoutMs);
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        redirect: 'follow',
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
    } catch (err) {
      const e = err as Error & { cause?: { code?: string; message?: string } };
      const why = e.name === 'TimeoutError' ? `no answer within ${this.opts.timeoutMs}ms` : `request failed (${e.cause?.code ?? e.cause?.message ?? e.message})`;
      throw new DeliveryError(`GitHub (${new URL(url).origin}) ${what}: ${why} (will retry)`, { permanent: false, cause: err });
    }
    const text = await res.text().catch(() => '');
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (res.status < 200 || res.status >= 300) {
      throw githubError(what, res.status, res.headers, (parsed ?? {}) as GithubErrorBody, this.opts.now());
    }
    return { data: parsed as T, headers: res.headers };
  }

  /** Issues (not pull requests) carrying the label, open and closed, newest first. */
  async issuesWithLabel(label: string, signal?: AbortSignal): Promise<GithubIssue[]> {
    const q = new URLSearchParams({ labels: label, state: 'all', sort: 'created', direction: 'desc', per_page: '100' });
    const { data } = await this.call<GithubIssue[]>(`list issues labelled ${label} in ${this.opts.repo}`, 'GET', `${this.root}/issues?${q}`, undefined, signal);
    return (data ?? []).filter((i) => i.pull_request === undefined);
  }

  async createIssue(content: { title: string; body: string; labels: string[] }, signal?: AbortSignal): Promise<GithubIssue> {
    const { data } = await this.call<GithubIssue>(`create an issue in ${this.opts.repo}`, 'POST', `${this.root}/issues`, content, signal);
    return data;
  }

  async comment(issue: number, body: string, signal?: AbortSignal): Promise<GithubComment> {
    const { data } = await this.call<GithubComment>(`comment on ${this.opts.repo}#${issue}`, 'POST', `${this.root}/issues/${issue}/comments`, { body }, signal);
    return data;
  }

  async setState(issue: number, state: 'open' | 'closed', signal?: AbortSignal): Promise<GithubIssue> {
    const patch = state === 'closed' ? { state, state_reason: 'completed' } : { state, state_reason: 'reopened' };
    const { data } = await this.call<GithubIssue>(`${state === 'closed' ? 'close' : 'reopen'} ${this.opts.repo}#${issue}`, 'PATCH', `${this.root}/issues/${issue}`, patch, signal);
    return data;
  }

  /** The last page of an issue's comments (oldest first within it): where Vigil's latest note is. */
  async lastComments(issue: number, signal?: AbortSignal): Promise<GithubComment[]> {
    const what = `list comments of ${this.opts.repo}#${issue}`;
    const first = await this.call<GithubComment[]>(what, 'GET', `${this.root}/issues/${issue}/comments?per_page=100`, undefined, signal);
    const last = lastPageLink(first.headers.get('link'));
    // Follow the link only to the API we were configured with: the token goes with it.
    if (last === undefined || new URL(last).origin !== new URL(this.root).origin) return first.data ?? [];
    const page = await this.call<GithubComment[]>(what, 'GET', last, undefined, signal);
    return page.data ?? [];
  }
}
