export * from './types.js';
export { MemoryBus, partitionFor } from './memory.js';
export { KafkaBus, topicConfig, type KafkaBusOptions } from './kafka.js';
export { describePartitions } from './partitions.js';
export { assignPartitions } from './kafkajs-assigner.js';
export { LogBus, type LogBusOptions } from './log/bus.js';
