/**
 * The flow's own settings (batch size, what happens to failed records, sandbox limits, retries, the
 * schedule) as a form generated from their JSON Schema (GET /api/flow-settings), the same way a node's
 * config form is: values left at their defaults stay out of the document.
 */
import { useEffect, useMemo, useState } from 'react';
import Form from '@rjsf/core';
import validator from '@rjsf/validator-ajv8';
import { dropHidden, formFor, pruneDefaults } from '../formSchema.js';
import { useApi, useEditor } from '../store.js';
import { fields, templates, widgets, type FormContext } from './formTheme.js';

let cached: Promise<Record<string, unknown>> | undefined;

export function FlowSettings({ readOnly }: { readOnly?: boolean }) {
  const api = useApi();
  const settings = useEditor((s) => ((s.meta as { settings?: Record<string, unknown> }).settings ?? {}) as Record<string, unknown>);
  const setSettings = useEditor((s) => s.setSettings);
  const revealAll = useEditor((s) => s.revealIssues);
  const [jsonSchema, setJsonSchema] = useState<Record<string, unknown> | null>(null);
  const [failed, setFailed] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    cached ??= api.flowSettings();
    cached.then(
      (s) => live && setJsonSchema(s),
      (err: unknown) => {
        cached = undefined;
        if (live) setFailed(err instanceof Error ? err.message : String(err));
      },
    );
    return () => {
      live = false;
    };
  }, [api]);
  const form = useMemo(() => (jsonSchema ? formFor(jsonSchema, settings) : null), [jsonSchema]); // eslint-disable-line react-hooks/exhaustive-deps
  const context: FormContext = useMemo(
    () => ({ nodeId: 'settings', connections: null, family: 'flow', onManageConnections: () => {}, config: settings, touched: new Set(), revealAll, dataFields: [] }),
    [settings, revealAll],
  );
  if (failed) return <p className="muted small">The flow settings could not be loaded: {failed}</p>;
  if (!form) return <p className="muted small">Loading the flow settings…</p>;
  return (
    <Form
      className="config-form"
      schema={form.schema}
      uiSchema={form.uiSchema}
      formData={settings}
      validator={validator}
      templates={templates}
      widgets={widgets}
      fields={fields}
      formContext={context}
      showErrorList={false}
      noHtml5Validate
      disabled={readOnly}
      idPrefix="flow_settings"
      onChange={(e) => {
        const shown = dropHidden(e.formData ?? {}, form.schema) as Record<string, unknown>;
        const next = pruneDefaults(shown, settings, form.schema);
        if (JSON.stringify(next) !== JSON.stringify(settings)) setSettings(next);
      }}
    />
  );
}
