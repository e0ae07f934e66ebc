import { logger, transitionKey, type AlertTransition } from '@vigil/platform';
import { DeliveryError } from '../channel.js';
import type { AlertNotification, NotificationChannel, RenderedMessage, SendContext, SendReceipt } from '../../model.js';
import { GithubApi, type GithubComment, type GithubIssue } from './api.js';
import type { GithubChannelConfig } from './config.js';
import { decideIssueAction, type IssueAction } from './decision.js';
import {
  compileIssueTemplates,
  fingerprintLabel,
  parseNote,
  recurrenceComment,
  regressionComment,
  renderIssue,
  resolvedComment,
  type IssueContent,
  type IssueTemplates,
  type ParsedNote,
} from './templates.js';

/**
 * Channel "github": one issue per alert fingerprint, as error trackers keep them. A first firing
 * opens the issue; firing again comments (at most once per `commentInterval`, with the count in
 * between); resolving comments and closes it; firing after it was closed reopens the same issue.
 *
 * The state lives in GitHub: an issue is found by its `vigil:<fingerprint>` label (the list
 * endpoint filters labels exactly and at once, where search is eventually consistent and
 * limited to 30 requests a minute), and what Vigil said last by the hidden marker of its last
 * comment. A restarted notifier finds both; the in-memory cache only saves the calls.
 */

/** What the channel knows about the issue of one fingerprint. */
export interface TrackedIssue {
  number: number;
  url: string;
  state: 'open' | 'closed';
  /** Epoch ms of Vigil's last note (the issue's creation or Vigil's last comment). */
  lastNoteAt: number;
  /**
   * What was fully acted on last: `transitionKey` of a resolved transition, `<notification key>/<transitionKey>`
   * of a firing one. From GitHub alone (after a restart) only the transitionKey of the last note is known.
   */
  appliedKey: string | undefined;
  /** The same for the last comment posted; an action resumes after it (a close or reopen that failed). */
  commentedKey: string | undefined;
  /** Occurrences counted within the interval and not reported yet, and since when they are counted. */
  pending: number;
  pendingSince: number;
}

function noteKey(fingerprint: string, note: ParsedNote): string {
  return transitionKey({ fingerprint, startsAt: note.startsAt, severity: note.severity, status: note.event === 'resolved' ? 'resolved' : 'firing' });
}

/**
 * What a restarted channel knows from GitHub alone: the issue and the comments of its last page.
 * Pure. Occurrences counted before the restart are not in GitHub, so counting starts again at `nowMs`.
 */
export function trackFromGithub(issue: GithubIssue, comments: readonly GithubComment[], fingerprint: string, closeOnResolve: boolean, nowMs: number): TrackedIssue {
  let note: ParsedNote | undefined;
  let noteAt = Date.parse(issue.created_at);
  for (let i = comments.length - 1; i >= 0 && note === undefined; i--) {
    note = parseNote(comments[i]!.body ?? '', fingerprint);
    if (note) noteAt = Date.parse(comments[i]!.created_at);
  }
  note ??= parseNote(issue.body ?? '', fingerprint);
  const key = note ? noteKey(fingerprint, note) : undefined;
  // A comment whose state change did not follow (the reopen or close failed) is not applied yet.
  const complete =
    note !== undefined &&
    (note.event === 'created' || note.event === 'recurrence' || (note.event === 'regression' && issue.state === 'open') || (note.event === 'resolved' && (issue.state === 'closed' || !closeOnResolve)));
  return {
    number: issue.number,
    url: issue.html_url,
    state: issue.state,
    lastNoteAt: Number.isFinite(noteAt) ? noteAt : 0,
    appliedKey: complete ? key : undefined,
    commentedKey: key,
    pending: 0,
    pendingSince: nowMs,
  };
}

/** The label an error's fingerprint comes in (rules group errors by it: one alert per distinct error). */
export const ERROR_FINGERPRINT_LABEL = 'vigil.error.fingerprint';

/**
 * An alert as the channel keys its issue: by its error fingerprint when it has one, so the same
 * error is one issue whichever rule, host or severity raised it (as Sentry groups issues); else by
 * the alert's own fingerprint.
 */
export function keyedByIssue(alert: AlertTransition): AlertTransition {
  const error = alert.labels[ERROR_FINGERPRINT_LABEL];
  return error ? { ...alert, fingerprint: error } : alert;
}

/** Of the issues carrying a fingerprint's label (newest first): the open one, else the newest. */
export function chooseIssue(issues: readonly GithubIssue[]): GithubIssue | undefined {
  return issues.find((i) => i.state === 'open') ?? issues[0];
}

export interface GithubChannelOptions {
  /** Unique and stable, part of the ledger key; `github:<repo>` by default. */
  name?: string;
  /** Where config problems are reported, e.g. `notifier.receivers[0].github[0]`. */
  source?: string;
  now?: () => number;
}

export interface GithubChannel extends NotificationChannel {
  readonly kind: 'github';
  /** What the channel knows about a fingerprint's issue (undefined until it met it). For tests and the status API. */
  tracked(fingerprint: string): Readonly<TrackedIssue> | undefined;
}

const log = logger('notifier.github');

export function githubChannel(config: GithubChannelConfig, opts: GithubChannelOptions = {}): GithubChannel {
  const now = opts.now ?? Date.now;
  const source = opts.source ?? 'github';
  const templates: IssueTemplates = compileIssueTemplates(config, source);
  const api = new GithubApi({ apiUrl: config.apiUrl, repo: config.repo, token: config.token, timeoutMs: config.timeout, now });
  const cache = new Map<string, TrackedIssue>();
  /** One transition at a time per fingerprint, so two groups carrying one alert cannot open two issues. */
  const locks = new Map<string, Promise<unknown>>();

  const content = (alert: AlertTransition, n: AlertNotification): IssueContent => renderIssue(alert, templates, config.labels, n.externalUrl ?? '');

  async function lookUp(fingerprint: string, signal: AbortSignal): Promise<TrackedIssue | undefined> {
    const cached = cache.get(fingerprint);
    if (cached) return cached;
    const issue = chooseIssue(await api.issuesWithLabel(fingerprintLabel(fingerprint), signal));
    if (!issue) return undefined;
    const comments = issue.comments === 0 ? [] : await api.lastComments(issue.number, signal);
    const tracked = trackFromGithub(issue, comments, fingerprint, config.closeOnResolve, now());
    cache.set(fingerprint, tracked);
    return tracked;
  }

  async function apply(alert: AlertTransition, n: AlertNotification, signal: AbortSignal): Promise<{ action: IssueAction; issue?: number }> {
    // A resolve is noted once per episode. A firing alert is an occurrence in every notification
    // that carries it (a repeat, a group flush), but only once per notification: a retry or a
    // replay of the same notification is not another occurrence.
    const key = alert.status === 'resolved' ? transitionKey(alert) : `${n.key}/${transitionKey(alert)}`;
    const tracked = await lookUp(alert.fingerprint, signal);
    const nowMs = now();
    const { action } = decideIssueAction({
      issue: tracked && { state: tracked.state, lastNoteAt: tracked.lastNoteAt },
      status: alert.status,
      alreadyApplied: tracked?.appliedKey === key,
      nowMs,
      commentIntervalMs: config.commentInterval,
      closeOnResolve: config.closeOnResolve,
      reopenOnRegression: config.reopenOnRegression,
    });
    if (action === 'none') return { action, ...(tracked ? { issue: tracked.number } : {}) };
    if (action === 'create') {
      const body = content(alert, n);
      const issue = await api.createIssue(body, signal);
      const label = fingerprintLabel(alert.fingerprint);
      if (!issue.labels.some((l) => (typeof l === 'string' ? l : l.name) === label)) {
        // GitHub drops labels silently for tokens without push access; then a restart cannot find this issue.
        log.warn({ repo: config.repo, issue: issue.number }, 'GitHub dropped the labels of a new issue: give the token push access (or Issues and Metadata write) so a restart finds it');
      }
      cache.set(alert.fingerprint, { number: issue.number, url: issue.html_url, state: 'open', lastNoteAt: nowMs, appliedKey: key, commentedKey: key, pending: 0, pendingSince: nowMs });
      return { action, issue: issue.number };
    }
    const t = tracked!;
    switch (action) {
      case 'count':
        t.pending += 1;
        t.appliedKey = key;
        break;
      case 'comment':
        await api.comment(t.number, recurrenceComment(alert, t.pending + 1, t.pendingSince), signal);
        t.lastNoteAt = nowMs;
        t.pending = 0;
        t.pendingSince = nowMs;
        t.appliedKey = t.commentedKey = key;
        break;
      case 'resolve':
        if (t.commentedKey !== key) {
          await api.comment(t.number, resolvedComment(alert, t.pending, config.closeOnResolve), signal);
          t.commentedKey = key;
          t.lastNoteAt = nowMs;
          t.pending = 0;
          t.pendingSince = nowMs;
        }
        if (config.closeOnResolve) t.state = (await api.setState(t.number, 'closed', signal)).state;
        t.appliedKey = key;
        break;
      case 'reopen':
        if (t.commentedKey !== key) {
          await api.comment(t.number, regressionComment(alert, true), signal);
          t.commentedKey = key;
          t.lastNoteAt = nowMs;
          t.pending = 0;
          t.pendingSince = nowMs;
        }
        t.state = (await api.setState(t.number, 'open', signal)).state;
        t.appliedKey = key;
        break;
    }
    return { action, issue: t.number };
  }

  function serialised<T>(fingerprint: string, fn: () => Promise<T>): Promise<T> {
    const prev = locks.get(fingerprint) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.catch(() => undefined);
    locks.set(fingerprint, tail);
    void tail.then(() => {
      if (locks.get(fingerprint) === tail) locks.delete(fingerprint);
    });
    return run;
  }

  return {
    kind: 'github',
    name: opts.name ?? `github:${config.repo}`,
    tracked: (fingerprint) => cache.get(fingerprint),

    render(n: AlertNotification): RenderedMessage {
      const issues = n.alerts.map((a) => content(a, n));
      return { title: issues[0]?.title ?? '', text: issues[0]?.body ?? '', json: issues };
    },

    async send(n: AlertNotification, ctx: SendContext): Promise<SendReceipt> {
      const done: string[] = [];
      const errors: DeliveryError[] = [];
      // Alerts one by one: each is its own issue, and a failed one does not stop the others.
      // A retry redoes only the failed ones, since the others' transitions are applied.
      for (const alert of n.alerts.map(keyedByIssue)) {
        try {
          const r = await serialised(alert.fingerprint, () => apply(alert, n, ctx.signal));
          if (r.issue !== undefined && r.action !== 'none') done.push(`${r.action} #${r.issue}`);
          log.debug({ repo: config.repo, fingerprint: alert.fingerprint, action: r.action, issue: r.issue }, 'github issue');
        } catch (err) {
          errors.push(err instanceof DeliveryError ? err : new DeliveryError(`GitHub ${config.repo}: ${(err as Error).message} (will retry)`, { permanent: false, cause: err }));
        }
      }
      if (errors.length > 0) {
        const first = errors.find((e) => !e.permanent) ?? errors[0]!;
        const message = errors.length === 1 ? first.message : `${first.message} (and ${errors.length - 1} more of ${n.alerts.length} alerts failed)`;
        // Retry while any failure may pass later; the alerts that went through are not redone.
        const retryAfterMs = Math.max(0, ...errors.map((e) => e.retryAfterMs ?? 0));
        throw new DeliveryError(message, {
          permanent: errors.every((e) => e.permanent),
          ...(first.status !== undefined ? { status: first.status } : {}),
          ...(retryAfterMs > 0 ? { retryAfterMs } : {}),
          cause: first,
        });
      }
      return { providerId: done.map((d) => d.slice(d.indexOf('#'))).join(','), detail: done.join('; ') };
    },
  };
}
