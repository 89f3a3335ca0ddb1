/**
 * axe-core in a page driven by playwright-core: injects the installed axe-core and returns its critical
 * and serious violations, each with the rule, its help and where (up to three selectors per rule).
 */
import { createRequire } from 'node:module';
import type { Page } from 'playwright-core';

const require = createRequire(import.meta.url);
const AXE_PATH = require.resolve('axe-core/axe.min.js');

export interface AxeProblem {
  rule: string;
  impact: string;
  help: string;
  where: string[];
}

/** the critical and serious axe-core violations of what the page shows now (`within`: one part of it) */
export async function axeProblems(page: Page, within?: string): Promise<AxeProblem[]> {
  if (!(await page.evaluate(() => 'axe' in window))) await page.addScriptTag({ path: AXE_PATH });
  const found = await page.evaluate(async (selector) => {
    const axe = (window as unknown as { axe: { run(ctx: unknown, opts: unknown): Promise<{ violations: { id: string; impact: string | null; help: string; nodes: { target: unknown[] }[] }[] }> } }).axe;
    const result = await axe.run(selector ?? document, { resultTypes: ['violations'] });
    return result.violations.map((v) => ({ rule: v.id, impact: v.impact ?? '', help: v.help, where: v.nodes.slice(0, 3).map((n) => n.target.map(String).join(' ')) }));
  }, within ?? null);
  return found.filter((v) => v.impact === 'critical' || v.impact === 'serious');
}
