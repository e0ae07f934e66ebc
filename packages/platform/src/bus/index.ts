export * from './types.js';
export { MemoryBus, partitionFor } from './memory.js';
export { KafkaBus, type KafkaBusOptions } from './kafka.js';
export { LogBus, type LogBusOptions } from './log/bus.js';
