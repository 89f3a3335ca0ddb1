/** Palette and canvas metadata keyed by category and icon name: one place for colours and glyphs. */
import type { Category, NodeTypeInfo } from './api.js';

export const CATEGORIES: { id: Category; label: string; hint: string }[] = [
  { id: 'source', label: 'Sources', hint: 'read records in' },
  { id: 'transform', label: 'Transforms', hint: 'reshape, filter, route' },
  { id: 'aggregate', label: 'Aggregate', hint: 'group and summarise' },
  { id: 'denormalize', label: 'Denormalize', hint: 'fold related rows into documents' },
  { id: 'sink', label: 'Sinks', hint: 'write records out' },
];

// 16×16 stroke icons, drawn for this editor
const PATHS: Record<string, string> = {
  sparkles: 'M8 2.5v3M8 10.5v3M2.5 8h3M10.5 8h3M4.2 4.2l1.6 1.6M10.2 10.2l1.6 1.6M11.8 4.2l-1.6 1.6M5.8 10.2l-1.6 1.6',
  function: 'M10.5 2.5c-2 0-2.5 1-2.8 3L6.8 11c-.3 2-.8 2.5-2.3 2.5M5 6.5h5',
  filter: 'M2.5 3h11l-4.2 5v4.5l-2.6 1.2V8z',
  columns: 'M2.5 3h11v10h-11zM6.2 3v10M9.8 3v10',
  file: 'M4 1.8h5l3 3v9.4H4zM9 1.8v3h3M6 8.5h4M6 11h4',
  database: 'M3 3.8c0-1.1 2.2-1.8 5-1.8s5 .7 5 1.8v8.4c0 1.1-2.2 1.8-5 1.8s-5-.7-5-1.8zM3 3.8c0 1.1 2.2 1.8 5 1.8s5-.7 5-1.8M3 8c0 1.1 2.2 1.8 5 1.8s5-.7 5-1.8',
  source: 'M2.5 8h8M7.5 4.5 11 8l-3.5 3.5M13.5 3v10',
  transform: 'M3 5h7.5M8.5 2.5 11 5 8.5 7.5M13 11H5.5M7.5 8.5 5 11l2.5 2.5',
  aggregate: 'M3 13.5V8.5M6.3 13.5v-8M9.7 13.5V7M13 13.5v-11',
  denormalize: 'M2.5 3.5h4v3h-4zM2.5 9.5h4v3h-4zM9.5 6.5h4v3h-4zM6.5 5h1.5v5.5H6.5M8 8h1.5',
  sink: 'M2.5 3v10M5.5 8h8M10 4.5 13.5 8 10 11.5',
};

export function Icon({ name, size = 16, className }: { name: string; size?: number; className?: string }) {
  const d = PATHS[name] ?? PATHS.transform;
  return (
    <svg className={className} width={size} height={size} viewBox="0 0 16 16" fill="none" stroke="currentColor" strokeWidth={1.4} strokeLinecap="round" strokeLinejoin="round" aria-hidden>
      <path d={d} />
    </svg>
  );
}

export const iconOf = (t: NodeTypeInfo | undefined) => (t?.icon && PATHS[t.icon] ? t.icon : (t?.category ?? 'transform'));
