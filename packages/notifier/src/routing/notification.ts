import { createHash } from 'node:crypto';
import { transitionKey, type AlertTransition } from '@vigil/platform';
import type { AlertNotification, HeldBack } from '../model.js';
import type { FlushedGroup } from './dispatcher.js';

/**
 * The delivery key of a notification: a digest of the receiver, the group key and the sorted
 * transition keys of its alerts, so the same group telling the same receiver the same thing
 * gets the same key after a replay or a restart. `repeat` (the how-manieth re-send of an
 * unchanged group) keeps repeats apart from the original.
 */
export function notificationKey(groupKey: string, receiver: string, alerts: readonly Pick<AlertTransition, 'fingerprint' | 'status' | 'severity' | 'startsAt'>[], repeat = 0): string {
  const h = createHash('sha256').update(receiver).update('\u0000').update(groupKey).update('\u0000');
  for (const k of alerts.map(transitionKey).sort()) h.update(k).update('\u0001');
  if (repeat > 0) h.update(`repeat:${repeat}`);
  return h.digest('hex').slice(0, 32);
}

/** A flushed group as the notification the delivery stage sends; `now` becomes createdAt. */
export function toNotification(group: FlushedGroup, now: number, extra: { heldBack?: HeldBack; externalUrl?: string } = {}): AlertNotification {
  const n: AlertNotification = {
    key: notificationKey(group.groupKey, group.receiver, group.alerts, group.repeat),
    receiver: group.receiver,
    groupKey: group.groupKey,
    groupLabels: group.groupLabels,
    status: group.status,
    severity: group.severity,
    alerts: group.alerts,
    commonLabels: group.commonLabels,
    commonAnnotations: group.commonAnnotations,
    createdAt: new Date(now).toISOString(),
  };
  if (extra.heldBack) n.heldBack = extra.heldBack;
  if (extra.externalUrl) n.externalUrl = extra.externalUrl;
  return n;
}
