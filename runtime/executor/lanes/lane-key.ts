/**
 * Where a lane keeps its positions in the checkpoint store: its own key, beside the flow's. The lane
 * count is part of the key: a flow run again with another `settings.lanes` shares its rows out
 * differently, so it starts again from the beginning (at-least-once: idempotent sinks rewrite the same
 * rows) rather than resuming from positions that meant another share.
 */
export function laneStateKey(flow: string, lane: { index: number; count: number }): string {
  return `${flow}~lane-${lane.index + 1}-of-${lane.count}`;
}
