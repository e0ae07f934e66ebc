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
      'no Kafka broker: the global setup provided none (see its [kafka-harness] warning at the start of the run) and KAFKA_BROKERS is not set; ' +
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
