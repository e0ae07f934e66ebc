import { Kafka, logLevel } from 'kafkajs';
import { decodeAlert, type AlertTransition } from '@vigil/platform';
import { unique } from './index.js';

export interface SeenAlert {
  /** When the test read it (ms). */
  at: number;
  key: string | null;
  /** The record's timestamp (ms), as ingest dates the alert history. */
  timestamp: number;
  alert: AlertTransition;
}

/** Everything published on an alerts topic (created if missing), read from the beginning by a plain kafkajs consumer. */
export async function watchAlerts(brokers: string[], topic: string, partitions = 2): Promise<{ seen: SeenAlert[]; stop(): Promise<void> }> {
  const seen: SeenAlert[] = [];
  const kafka = new Kafka({ clientId: 'vigil-test-alerts', brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: partitions }] });
  await admin.disconnect();
  const consumer = kafka.consumer({ groupId: unique('alerts-watch'), maxWaitTimeInMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      seen.push({ at: Date.now(), key: message.key?.toString() ?? null, timestamp: Number(message.timestamp), alert: decodeAlert(message.value!) });
    },
  });
  return { seen, stop: () => consumer.disconnect() };
}
