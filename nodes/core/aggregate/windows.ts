/**
 * Windows of core.aggregate: which windows a time falls in, and when a window is closed.
 *
 * - tumbling: [k·size, (k+1)·size); hopping: windows of `size` starting every `slide`, so a time falls
 *   in ceil(size / slide) of them; session: a run of records of one group with less than `gap`
 *   between neighbours, ending `gap` after its last record.
 * - Event time (`time: { field }`): the clock is the watermark, the latest event time seen minus
 *   `lateness`. A window closes once the watermark reaches its end: it is emitted (when held) and its
 *   state dropped. A record whose windows have all closed is late (error port, the reason names the
 *   window and the lateness); one that still has an open window counts there. Closed windows are final:
 *   an update or delete of a row they hold no longer changes them.
 * - Processing time: the clock is the wall clock; records are stamped when the node sees them, never
 *   late; windows close on the node's tick.
 */
import { Invalid, describeValue } from './measures.js';
import { parseDuration, type AggregateConfig } from './config.js';

export type TimeSpec = { kind: 'processing' } | { kind: 'event'; field: string };

export type WindowSpec =
  | { type: 'none' }
  | { type: 'tumbling' | 'hopping'; size: number; slide: number; time: TimeSpec; lateness: number }
  | { type: 'session'; gap: number; time: TimeSpec; lateness: number };

export function windowSpec(w: AggregateConfig['window']): WindowSpec {
  const time: TimeSpec = w.time === 'processing' ? { kind: 'processing' } : { kind: 'event', field: w.time.field };
  const lateness = parseDuration(w.lateness);
  switch (w.type) {
    case 'none':
      return { type: 'none' };
    case 'tumbling': {
      const size = parseDuration(w.size!);
      return { type: 'tumbling', size, slide: size, time, lateness };
    }
    case 'hopping':
      return { type: 'hopping', size: parseDuration(w.size!), slide: parseDuration(w.slide!), time, lateness };
    case 'session':
      return { type: 'session', gap: parseDuration(w.gap!), time, lateness };
  }
}

/** an event time from a field: ms since the epoch, or a date/time string Date.parse understands */
export function eventTime(field: string, v: unknown): number | Invalid {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string') {
    const t = Date.parse(v);
    if (Number.isFinite(t)) return t;
  }
  const got = v === undefined ? 'nothing' : describeValue(v);
  return new Invalid(`window.time.field "${field}" must hold an event time (ms since the epoch or an ISO 8601 string), got ${got}`);
}

/** starts of the fixed windows that hold time t, earliest first */
export function windowStarts(size: number, slide: number, t: number): number[] {
  const last = Math.floor(t / slide) * slide;
  const starts: number[] = [];
  for (let s = last; s > t - size; s -= slide) starts.push(s);
  return starts.reverse();
}

/** the end of the last fixed window that holds t: once the clock passes it, t can no longer count */
export function lastEnd(size: number, slide: number, t: number): number {
  return Math.floor(t / slide) * slide + size;
}

export function iso(ms: number): string {
  return new Date(ms).toISOString();
}

export function describeWindow(start: number, end: number): string {
  return `[${iso(start)}, ${iso(end)})`;
}
