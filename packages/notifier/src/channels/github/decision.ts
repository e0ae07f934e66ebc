/**
 * What the GitHub channel does with one alert transition, given what the alert's issue looks
 * like. Pure: the channel gathers the facts (from its cache or from GitHub) and carries out the
 * action.
 */

export type IssueAction =
  /** No issue for this fingerprint yet: open one. */
  | 'create'
  /** Fired again while its issue is open, and the last note is at least `commentInterval` old: comment with the count. */
  | 'comment'
  /** Fired again within the interval: count it into the next comment, call nothing. */
  | 'count'
  /** Resolved: comment, and close when `closeOnResolve`. */
  | 'resolve'
  /** Fired again after its issue was closed: reopen it with a comment (never a second issue). */
  | 'reopen'
  /** Nothing to do (see `reason`). */
  | 'none';

export interface IssueFacts {
  state: 'open' | 'closed';
  /** Epoch ms of Vigil's last note on the issue: its creation or Vigil's last comment. */
  lastNoteAt: number;
}

export interface DecisionInput {
  /** The issue of this fingerprint, undefined when there is none. */
  issue: IssueFacts | undefined;
  status: 'firing' | 'resolved';
  /**
   * Already acted on: a firing alert in this same notification (a retry or a replay), or this
   * resolved episode (whichever notification carried it).
   */
  alreadyApplied: boolean;
  nowMs: number;
  commentIntervalMs: number;
  closeOnResolve: boolean;
  reopenOnRegression: boolean;
}

export interface Decision {
  action: IssueAction;
  /** Why, in a few words, for logs and tests. */
  reason: string;
}

export function decideIssueAction(i: DecisionInput): Decision {
  const { issue } = i;
  if (issue === undefined) {
    return i.status === 'firing' ? { action: 'create', reason: 'first firing' } : { action: 'none', reason: 'resolved without an issue' };
  }
  if (i.alreadyApplied) return { action: 'none', reason: 'transition already applied' };
  if (i.status === 'resolved') {
    // A closed issue stays as it is: Vigil closed it already, or a person did.
    return issue.state === 'open' ? { action: 'resolve', reason: i.closeOnResolve ? 'resolved, close' : 'resolved, keep open' } : { action: 'none', reason: 'resolved, issue already closed' };
  }
  if (issue.state === 'closed' && i.reopenOnRegression) return { action: 'reopen', reason: 'regression' };
  // Fired again: on an open issue, or on a closed one that stays closed (reopenOnRegression off).
  return i.nowMs - issue.lastNoteAt >= i.commentIntervalMs
    ? { action: 'comment', reason: 'recurrence, interval passed' }
    : { action: 'count', reason: 'recurrence within the comment interval' };
}
