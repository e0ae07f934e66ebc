/**
 * vitest globalSetup: one real Kafka broker for the whole run, handed to tests through
 * `provide('kafkaBrokers')` (read with `kafkaBrokers()` from ./index.ts).
 */
import type { TestProject } from 'vitest/node';
import { obtainKafkaBroker } from './kafka-broker.js';

const say = (line: string) => process.stderr.write(`[kafka-harness] ${line}\n`);

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const kafka = await obtainKafkaBroker({ log: say });
  if (kafka.source === 'none') {
    const why = kafka.notes.map((n) => `  - ${n}`).join('\n');
    const fix = 'Set KAFKA_BROKERS=host:port, run a Docker engine, or install a JDK 17+ and Maven so the harness can run Kafka from its jars.';
    // In CI a missing broker must fail the run, never quietly turn integration tests into skips.
    if (process.env.CI === 'true') throw new Error(`no Kafka broker for the test suite:\n${why}\n${fix}`);
    say(`WARNING: no Kafka broker; integration tests will fail with "no Kafka broker".\n${why}\n${fix}`);
  } else if (kafka.source === 'env') {
    say(`using KAFKA_BROKERS=${kafka.brokers}`);
  }
  project.provide('kafkaBrokers', kafka.brokers);
  return async () => {
    await kafka.stop();
  };
}
