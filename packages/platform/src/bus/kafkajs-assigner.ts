import { AssignerProtocol, type Assigner, type PartitionAssigner } from 'kafkajs';

/**
 * Vigil's partition assignment for kafkajs consumer groups: co-partitioned and sticky.
 *
 * Co-partitioned: partition N of every subscribed topic goes to the same member, as Kafka Streams
 * assigns its tasks. The rules workers read `otlp_metrics` and `otlp_logs`, both keyed by source,
 * so a source's metrics and logs (and its alerts' changelog entries) are on one worker; kafkajs's
 * round robin spread them over two.
 *
 * Sticky: a member keeps the partitions it held (it says which in its join metadata) up to its
 * fair share, and only the rest move. When an instance dies, only its partitions change hands;
 * when it comes back, it takes a fair share and the others keep the rest.
 *
 * Members that do not know this assigner (an older Vigil during a rolling upgrade) make the group
 * fall back to kafkajs's round robin, which every member also offers.
 */

export const COPARTITIONED_ASSIGNER = 'VigilCopartitionedSticky';
const VERSION = 0;

/** What a member held, as its join metadata carries it. */
interface Held {
  partitions: number[];
}

function readHeld(userData: Buffer): number[] {
  if (userData.length === 0) return [];
  try {
    const held = JSON.parse(userData.toString('utf8')) as Held;
    return Array.isArray(held.partitions) ? held.partitions.filter((p) => Number.isInteger(p) && p >= 0) : [];
  } catch {
    return [];
  }
}

/**
 * The assignment itself, pure: partition numbers to members (sorted by id), each member keeping
 * what it held up to its share (`ceil(n/m)` for the first `n % m` that fill up, `floor(n/m)` for the others).
 */
export function assignPartitions(partitions: readonly number[], members: readonly { id: string; held: readonly number[] }[]): Map<string, number[]> {
  const ids = [...members].map((m) => m.id).sort();
  const out = new Map<string, number[]>(ids.map((id) => [id, []]));
  if (ids.length === 0) return out;
  const all = [...new Set(partitions)].sort((a, b) => a - b);
  const floor = Math.floor(all.length / ids.length);
  let ceilings = all.length % ids.length;
  const free = new Set(all);
  const heldBy = new Map(members.map((m) => [m.id, m.held]));
  // Keep what each member held, up to its share.
  for (const id of ids) {
    const mine = out.get(id)!;
    for (const p of [...(heldBy.get(id) ?? [])].sort((a, b) => a - b)) {
      if (!free.has(p)) continue;
      const cap = floor + (ceilings > 0 ? 1 : 0);
      if (mine.length >= cap) break;
      mine.push(p);
      free.delete(p);
    }
    if (mine.length > floor) ceilings--;
  }
  // The rest to whoever has least, lowest id first.
  for (const p of free) {
    let best: string | undefined;
    for (const id of ids) {
      const n = out.get(id)!.length;
      const cap = floor + (ceilings > 0 ? 1 : 0);
      if (n >= cap) continue;
      if (best === undefined || n < out.get(best)!.length) best = id;
    }
    best ??= ids[0]!;
    const mine = out.get(best)!;
    mine.push(p);
    if (mine.length > floor) ceilings--;
  }
  for (const list of out.values()) list.sort((a, b) => a - b);
  return out;
}

/** The kafkajs assigner; `held()` says which partition numbers this member holds now (sent when it joins). */
export function copartitionedAssigner(held: () => number[]): PartitionAssigner {
  return ({ cluster }): Assigner => ({
    name: COPARTITIONED_ASSIGNER,
    version: VERSION,
    async assign({ members, topics }) {
      const perTopic = new Map<string, number[]>();
      for (const topic of topics) perTopic.set(topic, cluster.findTopicPartitionMetadata(topic).map((m) => m.partitionId));
      const numbers = [...perTopic.values()].flat();
      const plan = assignPartitions(
        numbers,
        members.map((m) => ({ id: m.memberId, held: readHeld(AssignerProtocol.MemberMetadata.decode(m.memberMetadata)?.userData ?? Buffer.alloc(0)) })),
      );
      return [...plan].map(([memberId, mine]) => {
        const assignment: Record<string, number[]> = {};
        for (const [topic, ps] of perTopic) {
          const here = mine.filter((p) => ps.includes(p));
          if (here.length > 0) assignment[topic] = here;
        }
        return { memberId, memberAssignment: AssignerProtocol.MemberAssignment.encode({ version: VERSION, assignment, userData: Buffer.alloc(0) }) };
      });
    },
    protocol({ topics }) {
      return {
        name: COPARTITIONED_ASSIGNER,
        metadata: AssignerProtocol.MemberMetadata.encode({ version: VERSION, topics, userData: Buffer.from(JSON.stringify({ partitions: held() } satisfies Held)) }),
      };
    },
  });
}
