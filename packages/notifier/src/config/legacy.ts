import { transitionKey, type AlertTransition } from '@vigil/platform';
import type { Channel } from '../channels/channel.js';
import type { AlertNotification, ChannelKind, NotificationChannel, RenderedMessage } from '../model.js';
import { compileTemplates, renderNotification, type CompiledTemplates, type Rendered } from '../templates/templates.js';

/**
 * `notifier.console` and `notifier.webhooks` from before receivers existed: one message per
 * transition, with the `notifier.templates.title`/`.body` texts. They form the implicit receiver
 * "default" (grouped per alert, no wait), so configs and receivers written for them keep working.
 * A channel of that kind sends each transition of a notification as its own message, keyed by the
 * transition (`Idempotency-Key`), as it always did.
 */
export function perTransition(channel: Channel, kind: ChannelKind, templates: CompiledTemplates): NotificationChannel {
  const defaults = compileTemplates();
  const texts = (alert: AlertTransition): Rendered => {
    try {
      return renderNotification(alert, templates);
    } catch {
      // A template that fails on an odd transition at run time falls back to the defaults rather than losing the message.
      return renderNotification(alert, defaults);
    }
  };
  return {
    kind,
    name: channel.name,
    render(n: AlertNotification): RenderedMessage {
      const parts = n.alerts.map(texts);
      return { title: parts[0]?.title ?? '', text: parts.map((p) => `${p.title}\n${p.text}`).join('\n\n') };
    },
    async send(n) {
      for (const alert of n.alerts) await channel.send({ key: transitionKey(alert), alert, ...texts(alert) });
    },
  };
}
