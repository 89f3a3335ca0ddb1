/**
 * A sink's answer to a test run's "what would writing first do to the target?" (SinkInstance.previewTarget),
 * the same for every sink that creates its table or collection when missing: `{ creates: 'table x' }`
 * when it does not exist yet (the editor then says "would create table x and insert N rows"), else
 * nothing. `exists` must only read: a test run never creates or changes anything.
 */
import type { SinkPreviewTarget } from '../../runtime/index.js';

export async function wouldCreate(createsMissing: boolean, what: string, exists: () => Promise<boolean>): Promise<SinkPreviewTarget | undefined> {
  if (!createsMissing) return undefined; // a missing target then fails the deploy, with its own message
  return (await exists()) ? undefined : { creates: what };
}
