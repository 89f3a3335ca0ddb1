/** Topic names and patterns (`orders.*`, `shop-?`) of a kafka.source, matched once against the cluster's topics. */
import { ConfigError } from '../../runtime/index.js';

const isPattern = (t: string) => /[*?]/.test(t);

function patternRegExp(p: string): RegExp {
  return new RegExp(`^${p.replace(/[.+^${}()|[\]\\]/g, '\\$&').replaceAll('*', '.*').replaceAll('?', '.')}$`);
}

/**
 * The topics to subscribe to: names as they are (a topic that does not exist yet is created on first use,
 * or read once it exists), patterns expanded against `existing` (internal `__` topics never match). A
 * pattern that matches nothing is a ConfigError naming it.
 */
export function matchTopics(nodeId: string, wanted: string[], existing: string[]): string[] {
  const visible = existing.filter((t) => !t.startsWith('__')).sort();
  const out: string[] = [];
  wanted.forEach((w, i) => {
    if (!isPattern(w)) {
      if (!out.includes(w)) out.push(w);
      return;
    }
    const re = patternRegExp(w);
    const matched = visible.filter((t) => re.test(t));
    if (matched.length === 0) {
      throw new ConfigError(nodeId, `topics[${i}]`, `pattern ${JSON.stringify(w)} matches no topic; topics: ${visible.slice(0, 30).join(', ') || 'none'}`);
    }
    for (const t of matched) if (!out.includes(t)) out.push(t);
  });
  return out;
}
