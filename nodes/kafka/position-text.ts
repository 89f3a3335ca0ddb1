/** kafka.source positions in words: the next offset of each partition, `orders[0]=120 orders[1]=98`. */
import type { PositionText } from '../../runtime/index.js';

type Offsets = { offsets: Record<string, Record<string, string | number>> };

const ENTRY = /^(.+)\[(\d+)\]=(\d+)$/;

function flat(p: Offsets): Map<string, bigint> {
  const out = new Map<string, bigint>();
  for (const [topic, parts] of Object.entries(p.offsets)) for (const [part, off] of Object.entries(parts)) out.set(`${topic}[${part}]`, BigInt(off));
  return out;
}

export const kafkaPositionText: PositionText = {
  example: 'orders[0]=120 orders[1]=98',
  rewindCaveat:
    "kafka.source resumes each partition from the larger of this and the group's committed offset: to read again, also move the group's offsets back (kafka-consumer-groups.sh --reset-offsets) or use a new group",
  describe: (p) => [...flat(p as Offsets)].map(([k, v]) => `${k}=${v}`).join(' ') || 'no partition read yet',
  parse(text) {
    const offsets: Offsets['offsets'] = {};
    const entries = text.trim().split(/[\s,]+/).filter(Boolean);
    if (entries.length === 0) throw new Error('expected TOPIC[PARTITION]=NEXT_OFFSET for each partition');
    for (const e of entries) {
      const m = ENTRY.exec(e);
      if (!m) throw new Error(`${JSON.stringify(e)}: expected TOPIC[PARTITION]=NEXT_OFFSET`);
      (offsets[m[1]] ??= {})[m[2]] = m[3];
    }
    return { offsets } satisfies Offsets;
  },
  compare(a, b) {
    // ordered only when every partition moved the same way (partitions missing on one side count as 0)
    const x = flat(a as Offsets);
    const y = flat(b as Offsets);
    let sign = 0;
    for (const k of new Set([...x.keys(), ...y.keys()])) {
      const d = (x.get(k) ?? 0n) - (y.get(k) ?? 0n);
      const s = d === 0n ? 0 : d < 0n ? -1 : 1;
      if (s === 0) continue;
      if (sign !== 0 && s !== sign) return undefined;
      sign = s;
    }
    return sign;
  },
};
