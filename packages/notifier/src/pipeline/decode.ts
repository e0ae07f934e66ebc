import { decodeAlert, transitionKey, type AlertTransition, type ConsumedRecord } from '@vigil/platform';

/** Stage "decode": a `vigil.alerts` record becomes a transition with its delivery key, or a dead letter. */

export type Arrival =
  | { ok: true; record: ConsumedRecord; alert: AlertTransition; key: string }
  | { ok: false; record: ConsumedRecord; error: string };

export function decodeRecord(record: ConsumedRecord): Arrival {
  try {
    const alert = decodeAlert(record.value);
    return { ok: true, record, alert, key: transitionKey(alert) };
  } catch (err) {
    return { ok: false, record, error: `${record.topic}[${record.partition}]@${record.offset}: ${(err as Error).message}` };
  }
}

export { deadLetter, type DeadLetter } from '@vigil/platform';
