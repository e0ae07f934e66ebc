import type { AlertTransition } from '@vigil/platform';
import { groupKey, highestSeverity, withSeverityLabel, type AlertNotification } from '../model.js';
import { onTarget, templateView, type TemplateView } from './templates.js';

/**
 * What a notification template sees: the whole group (AlertNotification) plus derived fields,
 * and each alert with its own derived fields (`templateView`: name, target, fraction, ...).
 */
export interface NotificationView extends Omit<AlertNotification, 'alerts'> {
  alerts: AlertView[];
  firingAlerts: AlertView[];
  resolvedAlerts: AlertView[];
  count: number;
  firingCount: number;
  resolvedCount: number;
  /** More than one alert in the group. */
  multiple: boolean;
  firing: boolean;
  resolved: boolean;
  /** The alert name shared by the group (else the rule, else `N alerts`). */
  name: string;
  /** The target shared by every alert, '' when they differ. */
  target: string;
  /** ` on <target>` for titles, '' when there is none or the name already says it. */
  onTarget: string;
  /** `vigil.category` shared by the group, ''. */
  category: string;
  /** The rule shared by every alert, ''. */
  rule: string;
  /** The channel kind being rendered for (slack, email, ...). */
  channel: string;
  /** The first alert, for templates written for one. */
  alert: AlertView;
}

export interface AlertView extends TemplateView {
  /** The alert's `vigil.category` label, ''. */
  category: string;
}

export const CATEGORY_LABEL = 'vigil.category';

function shared<T>(items: T[], pick: (t: T) => string): string {
  const first = items[0] === undefined ? '' : pick(items[0]);
  return items.every((i) => pick(i) === first) ? first : '';
}

/** The rule a notification is about when all its alerts come from one rule: per-rule templates apply then. */
export function notificationRule(n: Pick<AlertNotification, 'alerts'>): string {
  return shared(n.alerts, (a) => a.rule);
}

export function alertView(a: AlertTransition): AlertView {
  const v = templateView(a) as AlertView;
  v.category = a.labels[CATEGORY_LABEL] ?? '';
  return v;
}

export function notificationView(n: AlertNotification, channel: string): NotificationView {
  const alerts = n.alerts.map(alertView);
  const firingAlerts = alerts.filter((a) => a.firing);
  const resolvedAlerts = alerts.filter((a) => !a.firing);
  const rule = notificationRule(n);
  const name = shared(alerts, (a) => a.name) || rule || `${alerts.length} alerts`;
  const target = shared(alerts, (a) => a.target);
  const placeholder = alertView({
    fingerprint: '',
    status: n.status,
    severity: n.severity,
    labels: n.commonLabels,
    annotations: n.commonAnnotations,
    startsAt: n.createdAt,
    rule,
    window: 0,
  });
  return {
    key: n.key,
    receiver: n.receiver,
    groupKey: n.groupKey,
    groupLabels: n.groupLabels,
    status: n.status,
    severity: n.severity,
    commonLabels: n.commonLabels,
    commonAnnotations: n.commonAnnotations,
    createdAt: n.createdAt,
    ...(n.heldBack ? { heldBack: n.heldBack } : {}),
    ...(n.externalUrl !== undefined ? { externalUrl: n.externalUrl } : {}),
    ...(n.recipients ? { recipients: n.recipients } : {}),
    alerts,
    firingAlerts,
    resolvedAlerts,
    count: alerts.length,
    firingCount: firingAlerts.length,
    resolvedCount: resolvedAlerts.length,
    multiple: alerts.length > 1,
    firing: n.status === 'firing',
    resolved: n.status !== 'firing',
    name,
    target,
    onTarget: onTarget(name, target),
    category: n.commonLabels[CATEGORY_LABEL] ?? shared(alerts, (a) => a.category),
    rule,
    channel,
    alert: alerts[0] ?? placeholder,
  };
}

/** Labels every alert has with the same value. */
export function commonLabelsOf(maps: Record<string, string>[]): Record<string, string> {
  const out: Record<string, string> = {};
  const [first, ...rest] = maps;
  if (!first) return out;
  for (const [k, v] of Object.entries(first)) if (rest.every((m) => m[k] === v)) out[k] = v;
  return out;
}

/**
 * A notification for one receiver from transitions, for previews (`vigil template render`) and
 * tests: firing alerts first, the group's status and severity as routing sets them.
 */
export function notificationOf(alerts: AlertTransition[], opts: { receiver?: string; createdAt?: string; externalUrl?: string; key?: string } = {}): AlertNotification {
  const labelled = alerts.map(withSeverityLabel);
  const sorted = [...labelled.filter((a) => a.status === 'firing'), ...labelled.filter((a) => a.status !== 'firing')];
  const firing = sorted.filter((a) => a.status === 'firing');
  const commonLabels = commonLabelsOf(sorted.map((a) => a.labels));
  const groupLabels: Record<string, string> = {};
  if (commonLabels.alertname !== undefined) groupLabels.alertname = commonLabels.alertname;
  const receiver = opts.receiver ?? 'preview';
  return {
    key: opts.key ?? `${receiver}:${sorted.map((a) => `${a.fingerprint}:${a.status}`).join(',')}`,
    receiver,
    groupKey: groupKey('{}', groupLabels),
    groupLabels,
    status: firing.length > 0 ? 'firing' : 'resolved',
    severity: highestSeverity((firing.length > 0 ? firing : sorted).map((a) => a.severity)),
    alerts: sorted,
    commonLabels,
    commonAnnotations: commonLabelsOf(sorted.map((a) => a.annotations)),
    createdAt: opts.createdAt ?? new Date().toISOString(),
    ...(opts.externalUrl !== undefined ? { externalUrl: opts.externalUrl } : {}),
  };
}
