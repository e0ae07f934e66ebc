/** Readiness of a Kafka broker the harness started: it must answer real requests, not just accept TCP. */
import { readFile } from 'node:fs/promises';
import { Kafka, logLevel } from 'kafkajs';

export interface WaitForKafkaOptions {
  timeoutMs: number;
  /** Returns why waiting is pointless (the broker process died), if it is. */
  gone?: () => string | undefined;
  /** Pause between attempts. Default 250 ms. */
  intervalMs?: number;
}

/**
 * Resolves once the brokers answer a metadata request (listTopics) and name a controller
 * (describeCluster), i.e. the KRaft quorum is up. Rejects with the last error at the deadline.
 */
export async function waitForKafka(brokers: string[], opts: WaitForKafkaOptions): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  let last = 'no attempt made';
  for (;;) {
    const gone = opts.gone?.();
    if (gone) throw new Error(gone);
    const kafka = new Kafka({
      clientId: 'vigil-test-harness',
      brokers,
      logLevel: logLevel.NOTHING,
      connectionTimeout: 1_000,
      requestTimeout: 5_000,
      retry: { retries: 0 },
    });
    const admin = kafka.admin();
    try {
      await admin.connect();
      await admin.listTopics();
      const cluster = await admin.describeCluster();
      if (cluster.controller !== null && cluster.controller >= 0 && cluster.brokers.length > 0) return;
      last = 'the cluster has no active controller yet';
    } catch (err) {
      last = (err as Error).message;
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
    if (Date.now() >= deadline) throw new Error(`no answer from ${brokers.join(',')} within ${opts.timeoutMs} ms (last error: ${last})`);
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 250));
  }
}

/** The last `n` lines of a log file, or a note saying why there are none. */
export async function logTail(file: string, n: number): Promise<string> {
  try {
    const text = await readFile(file, 'utf8');
    return text.trimEnd().split('\n').slice(-n).join('\n') || '(empty log)';
  } catch (err) {
    return `(no log: ${(err as Error).message})`;
  }
}
