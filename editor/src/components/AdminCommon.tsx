/** Bits the admin pages (Users & API keys, Audit) share. */
import { useEditor } from '../store.js';

/** back to the open flow, or a new one */
export function BackLink() {
  const openFlow = useEditor((s) => s.flowId);
  return (
    <a href={openFlow ? `#/flow/${encodeURIComponent(openFlow)}` : '#/'} className="link">
      ← Back to the editor
    </a>
  );
}

/** an ISO time as local date and time to the second (the full ISO time in the tooltip) */
export function fmtTime(iso: string | null | undefined): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}
