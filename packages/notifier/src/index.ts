/** @vigil/notifier: delivers alert transitions from `vigil.alerts` to receivers (email, SMS, Slack, Discord, webhooks, GitHub issues, console, file), grouped, each notification once per channel. */
export { createNotifierRole, checkNotifierConfig, type NotifierOptions, type NotifierRole, type NotifierServices } from './role.js';
export { NotifierConfig, ReceiverConfig, DeliveryConfig, CHANNEL_KINDS } from './config/schema.js';
export { IMPLICIT_RECEIVER, type Receiver, type NotifierSetup, type SetupOptions } from './config/build.js';
export { perTransition } from './config/legacy.js';
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
export * from './routing/index.js';
export { NotificationPipeline, type PipelineDeps } from './pipeline/pipeline.js';
export { Deliverer, idempotencyKey, forFallback, type ChannelResult, type DeliverDeps } from './pipeline/deliver.js';
export { Inbox, type InboxEntry } from './pipeline/inbox.js';
export { SnapshotStore, SilenceStore, type NotifierSnapshot } from './pipeline/state.js';
export { decodeRecord, deadLetter, type Arrival, type DeadLetter } from './pipeline/decode.js';
export { dedupDecision, SentDeliveries, type DedupDecision } from './pipeline/dedup.js';
export { DeliveryLedger, deliveryRow, type DeliveryRow, type DeliveryRecord, type DeliveryFilter, type SentNotification } from './pipeline/ledger.js';
export { retryDecision, sendWithRetry, StoppingError, DEFAULT_RETRY_POLICY, type RetryPolicy, type RetryDecision, type DeliveryOutcome, type SendOptions, type Attempt } from './pipeline/retry.js';
export { registerNotifierApi, type NotifierApiOptions } from './api/index.js';
export { notifierMetrics, type NotifierMetrics } from './metrics.js';
export * from './model.js';
