import { afterEach, describe, expect, it } from 'vitest';
import { KafkaBus } from '../src/bus/kafka.js';
import { kafkaBrokers, unique } from '../../../test/harness/index.js';

/**
 * kafkajs 2.2.4 re-arms a 1 ms timer on every broker connection while nothing is pending
 * (tulios/kafkajs#1556): an idle collector woke ~1,700 times a second. src/bus/kafkajs-idle.ts
 * patches it; this counts the timers an idle, connected producer sets on the real broker.
 */
const realSetTimeout = globalThis.setTimeout;
afterEach(() => {
  globalThis.setTimeout = realSetTimeout;
});

describe('KafkaBus while idle', () => {
  it('sets almost no timers once a send is done (kafkajs used to re-arm a 1 ms one per connection)', async () => {
    const bus = new KafkaBus({ brokers: kafkaBrokers(), clientId: unique('idle-test'), partitions: 1 });
    try {
      const topic = unique('idle');
      await bus.ensureTopics([{ name: topic }]);
      const producer = await bus.producer();
      await producer.send(topic, [{ key: 'k', value: Buffer.from('x') }]);
      let timers = 0;
      globalThis.setTimeout = ((...args: Parameters<typeof setTimeout>) => {
        timers++;
        return realSetTimeout(...args);
      }) as typeof setTimeout;
      await new Promise((r) => realSetTimeout(r, 1_000));
      globalThis.setTimeout = realSetTimeout;
      // With the loop: ~1,000 per connection in that second.
      expect(timers).toBeLessThan(20);
    } finally {
      globalThis.setTimeout = realSetTimeout;
      await bus.close();
    }
  });
});
