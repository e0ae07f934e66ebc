import { decodeAlert, type AlertTransition } from '@vigil/platform';
import type { RestoredAlert } from './engine.js';

/**
 * A rules worker's changelog entry: the latest transition of one alert, written before it is
 * published (so the changelog may be ahead of `vigil.alerts`, never behind it), and marked
 * `published` once it is. A resolved alert's entry is deleted once its resolve is published.
 */
export interface AlertEntry {
  transition: AlertTransition;
  published: boolean;
}

export function encodeEntry(e: AlertEntry): Buffer {
  return Buffer.from(JSON.stringify(e));
}

export function decodeEntry(bytes: Buffer): AlertEntry {
  const parsed = JSON.parse(bytes.toString('utf8')) as { transition?: unknown; published?: unknown };
  return { transition: decodeAlert(Buffer.from(JSON.stringify(parsed.transition))), published: parsed.published === true };
}

/**
 * What a rules worker does with the entries of a partition it is given, the state its previous
 * owner left:
 * - firing: the alert continues here (restored: no second page, resolved when its condition clears
 *   or its source sends without it);
 * - resolved: forgotten;
 * - either, not marked published: published now (its owner died in between; consumers take a
 *   transition they already have as a no-op).
 */
export interface PartitionTakeover {
  restore: RestoredAlert[];
  republish: AlertTransition[];
  /** Fingerprints whose entries go once republished. */
  forget: string[];
}

export function takeOver(entries: ReadonlyMap<string, AlertEntry>, partition: number): PartitionTakeover {
  const out: PartitionTakeover = { restore: [], republish: [], forget: [] };
  for (const [fp, { transition: t, published }] of entries) {
    if (!published) out.republish.push(t);
    if (t.status === 'resolved') {
      out.forget.push(fp);
      continue;
    }
    const { severity: _level, ...labels } = t.labels;
    out.restore.push({
      fingerprint: fp,
      rule: t.rule,
      severity: t.severity,
      labels,
      startsAt: t.startsAt,
      value: t.value ?? 0,
      annotations: t.annotations,
      partition,
    });
  }
  return out;
}
