import { inject } from 'vitest';

declare module 'vitest' {
  export interface ProvidedContext {
    kafkaBrokers: string;
  }
}

/**
 * Brokers of the real Kafka the suite runs against (provided by the global setup:
 * KAFKA_BROKERS, Testcontainers, or Apache Kafka's jars run by the suite itself).
 */
export function kafkaBrokers(): string[] {
  const provided = safeInject() ?? process.env.KAFKA_BROKERS;
  if (!provided) {
    throw new Error(
      'no Kafka broker: the global setup provided none (see its [kafka-harness] warning at the start of the run; a package test that needs the broker must be named *.kafka.test.ts to run in the integration project) and KAFKA_BROKERS is not set; ' +
        'set KAFKA_BROKERS=host:port, run a Docker engine, or install a JDK 17+ and Maven',
    );
  }
  return provided.split(',').map((b) => b.trim()).filter(Boolean);
}

function safeInject(): string | undefined {
  try {
    return inject('kafkaBrokers') || undefined;
  } catch {
    return undefined;
  }
}

/** A name no other test uses, for topics and consumer groups on the shared broker. */
export function unique(prefix: string): string {
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 7)}`;
}

export { freePort } from './kafka-jvm.js';

/**
 * Polls `fn` until `ok` accepts its value (errors count as "not yet"), or fails naming `what`
 * with the last value seen.
 */
export async function eventually<T>(what: string, fn: () => T | Promise<T>, ok: (v: T) => boolean, timeoutMs = 45_000, intervalMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  let lastError: unknown;
  for (;;) {
    try {
      last = await fn();
      if (ok(last)) return last;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`${what}: not within ${timeoutMs} ms; last value: ${JSON.stringify(last)}${lastError ? `; last error: ${(lastError as Error).message}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
