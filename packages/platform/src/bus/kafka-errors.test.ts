import { describe, expect, it } from 'vitest';
import { outOfGeneration, producerStateLost } from './kafka.js';

describe('Kafka errors the bus acts on', () => {
  it('a producer whose sequence state the broker refuses is replaced, whether kafkajs wraps the error or not', () => {
    expect(producerStateLost({ type: 'OUT_OF_ORDER_SEQUENCE_NUMBER' })).toBe(true);
    expect(producerStateLost({ name: 'KafkaJSNumberOfRetriesExceeded', cause: { type: 'UNKNOWN_PRODUCER_ID' } })).toBe(true);
    expect(producerStateLost({ type: 'INVALID_PRODUCER_EPOCH' })).toBe(true);
    expect(producerStateLost({ type: 'NOT_LEADER_FOR_PARTITION' })).toBe(false);
    expect(producerStateLost(new Error('Connection error: connect ECONNREFUSED'))).toBe(false);
    expect(producerStateLost(null)).toBe(false);
  });

  it('a commit refused for a generation reason is named', () => {
    expect(outOfGeneration({ cause: { type: 'UNKNOWN_MEMBER_ID' } })).toBe('UNKNOWN_MEMBER_ID');
    expect(outOfGeneration({ type: 'OUT_OF_ORDER_SEQUENCE_NUMBER' })).toBeUndefined();
  });
});
