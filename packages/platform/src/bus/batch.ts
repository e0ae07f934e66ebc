import type { Batch, BatchHandler } from './types.js';

/** Runs a batch's handler, then the finish it gives (if any): the batch is durable when this resolves. */
export async function runBatch(handler: BatchHandler, batch: Batch): Promise<void> {
  const finish = await handler(batch);
  if (finish) await finish();
}
