import { createRequire } from 'node:module';

/**
 * A hook kafkajs lacks: "partitions revoked", awaited before a member rejoins its group.
 *
 * kafkajs (2.2.4, eager protocol) learns of a rebalance from a fetch or a heartbeat, stops its
 * fetchers (waiting for the batches in hand), and calls `ConsumerGroup.joinAndSync`. Its
 * `REBALANCING` event is emitted just before, and not awaited: a subscriber cannot make what it
 * holds durable before another member is given its partitions. Kafka's own clients call the
 * rebalance listener's `onPartitionsRevoked` at exactly that point.
 *
 * So `joinAndSync` is wrapped: when a hook is registered for the group and member (by KafkaBus,
 * once the member has joined and knows its id), it is awaited first. A first join (no member id
 * yet) and a member thrown out of the group (kafkajs clears its id) have nothing to hand over.
 */

type Hook = () => Promise<void>;

interface ConsumerGroupLike {
  groupId: string;
  memberId: string | null;
  joinAndSync(): Promise<void>;
}

const HOOKS = Symbol.for('vigil.kafka.beforeRejoinHooks');
const WRAPPED = Symbol.for('vigil.kafka.joinAndSyncWrapped');

const registry = globalThis as unknown as { [HOOKS]?: Map<string, Hook> };
const hooks = (registry[HOOKS] ??= new Map<string, Hook>());

const key = (groupId: string, memberId: string) => `${groupId}\u0000${memberId}`;

/** Registers what to await before this member of this group rejoins; returns the unregister function. */
export function beforeRejoin(groupId: string, memberId: string, hook: Hook): () => void {
  const k = key(groupId, memberId);
  hooks.set(k, hook);
  return () => {
    if (hooks.get(k) === hook) hooks.delete(k);
  };
}

const require = createRequire(import.meta.url);
const ConsumerGroup = require('kafkajs/src/consumer/consumerGroup.js') as { prototype: ConsumerGroupLike & { [WRAPPED]?: true } };
const proto = ConsumerGroup.prototype;
if (!proto[WRAPPED]) {
  const joinAndSync = proto.joinAndSync;
  proto.joinAndSync = async function (this: ConsumerGroupLike) {
    const hook = this.memberId ? hooks.get(key(this.groupId, this.memberId)) : undefined;
    if (hook) await hook().catch(() => undefined);
    return joinAndSync.call(this);
  };
  proto[WRAPPED] = true;
}
