/**
 * axe-core in a page driven by playwright-core: injects the installed axe-core and returns its critical
 * and serious violations, each with the rule, its help and where (up to three selectors per rule).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Page } from 'playwright-core';

const require = createRequire(import.meta.url);
const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

export interface AxeProblem {
  rule: string;
  impact: string;
  help: string;
  where: string[];
}

/** the critical and serious axe-core violations of what the page shows now (`within`: one part of it) */
export async function axeProblems(page: Page, within?: string): Promise<AxeProblem[]> {
  // evaluated through the DevTools protocol: the page's Content-Security-Policy stays as it is
  if (!(await page.evaluate(() => 'axe' in globalThis))) await page.evaluate(AXE_SOURCE);
  const found = await page.evaluate(async (selector) => {
    const { axe, document } = globalThis as unknown as { document: unknown; axe: { run(ctx: unknown, opts: unknown): Promise<{ violations: { id: string; impact: string | null; help: string; nodes: { target: unknown[] }[] }[] }> } };
    const result = await axe.run(selector ?? document, { resultTypes: ['violations'] });
    return result.violations.map((v) => ({ rule: v.id, impact: v.impact ?? '', help: v.help, where: v.nodes.slice(0, 3).map((n) => n.target.map(String).join(' ')) }));
  }, within ?? null);
  return found.filter((v) => v.impact === 'critical' || v.impact === 'serious');
}
