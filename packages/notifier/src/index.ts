/** @vigil/notifier: delivers alert transitions from `vigil.alerts` to notification channels, each exactly once as far as its receiver can tell. */
export { createNotifierRole, checkNotifierConfig, type NotifierOptions } from './role.js';
export * from './channels/index.js';
export {
  compileTemplates,
  renderNotification,
  templateView,
  isFraction,
  DEFAULT_TITLE,
  DEFAULT_BODY,
  HELPERS,
  type CompiledTemplates,
  type Rendered,
  type TemplateView,
} from './templates/templates.js';
export { notificationPipeline, type PipelineDeps } from './pipeline/pipeline.js';
export { decodeRecord, deadLetter, type Arrival, type DeadLetter } from './pipeline/decode.js';
export { dedupDecision, SentDeliveries, type DedupDecision } from './pipeline/dedup.js';
export { DeliveryLedger, deliveryRow, type DeliveryRow } from './pipeline/ledger.js';
export { retryDecision, sendWithRetry, StoppingError, DEFAULT_RETRY_POLICY, type RetryPolicy, type RetryDecision, type DeliveryOutcome, type SendOptions } from './pipeline/retry.js';
export { notifierMetrics, type NotifierMetrics } from './metrics.js';
export * from './model.js';
export * from './routing/index.js';
