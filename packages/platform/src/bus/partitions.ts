import type { TopicPartition } from './types.js';

/** `otlp_metrics[0,2] otlp_logs[0,2]`: partitions for logs and /health. */
export function describePartitions(partitions: readonly TopicPartition[]): string {
  const by = new Map<string, number[]>();
  for (const tp of partitions) by.set(tp.topic, [...(by.get(tp.topic) ?? []), tp.partition]);
  return [...by].map(([t, ps]) => `${t}[${ps.sort((a, b) => a - b).join(',')}]`).join(' ') || 'none';
}
