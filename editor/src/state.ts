/** The state of an editor with nothing open, and of a test run not yet started. */
import type { EditorState, PreviewState } from './store.js';

export const emptyPreview = (): PreviewState => ({ id: null, status: 'idle', startedAt: 0, edges: [], nodes: {}, edgeCounts: {}, summary: null });

export const initialState = (name = 'untitled-flow'): Omit<EditorState, 'readOnly'> => ({
  catalog: {},
  catalogError: null,
  flowId: null,
  baseVersion: null,
  meta: { apiVersion: 'sluice/v1', name },
  nodes: [],
  edges: [],
  savedEdgeIds: [],
  dirty: false,
  revision: 0,
  canUndo: false,
  canRedo: false,
  issues: [],
  issuesByNode: {},
  preview: emptyPreview(),
  live: null,
  logs: [],
  notice: null,
  conflict: null,
  busy: {},
  panel: 'preview',
  testMarks: {},
  revealIssues: false,
  picker: null,
  loads: 0,
  editDeployed: false,
  saveMessage: '',
});
