/**
 * A node's config as a form generated from its type's JSON Schema and UI hints (rjsf), with server
 * issues inline once a field was touched (or a save or test run was asked for).
 */
import { useCallback, useEffect, useMemo, useState } from 'react';
import Form from '@rjsf/core';
import validator from '@rjsf/validator-ajv8';
import type { Connection, NodeTypeInfo } from '../api.js';
import { dropHidden, errorsFor, formFor, hasNoSettings, pruneDefaults } from '../formSchema.js';
import { dataFieldsKey, nodeError, parseDataFields } from '../selectors.js';
import { useApi, useEditor } from '../store.js';
import { fields, templates, widgets, type FormContext } from './formTheme.js';

function useConnections(wanted: boolean): Connection[] | null {
  const api = useApi();
  const [list, setList] = useState<Connection[] | null>(null);
  useEffect(() => {
    if (!wanted) return;
    let live = true;
    api.connections().then(
      (l) => live && setList(l),
      () => live && setList([]),
    );
    return () => {
      live = false;
    };
  }, [api, wanted]);
  return list;
}

// an optional list with minItems must not appear as one empty item the user never asked for
const FORM_DEFAULTS = { arrayMinItems: { populate: 'requiredOnly' as const } };

const envKeys = (config: Record<string, unknown>) =>
  Object.entries(config)
    .filter(([, v]) => typeof v === 'string' && v.includes('${env:'))
    .map(([k]) => k)
    .join(',');

export function ConfigForm({ nodeId, type, config, readOnly }: { nodeId: string; type: NodeTypeInfo; config: Record<string, unknown>; readOnly?: boolean }) {
  const updateNode = useEditor((s) => s.updateNode);
  const issues = useEditor((s) => s.issuesByNode[nodeId]);
  const codeError = useEditor((s) => nodeError(s, nodeId));
  const revealAll = useEditor((s) => s.revealIssues);
  const fieldsKey = useEditor((s) => dataFieldsKey(s, nodeId));
  const dataFields = useMemo(() => parseDataFields(fieldsKey), [fieldsKey]);
  // the ids of the fields the user changed or left: only those show their problems before a save
  const [touched, setTouched] = useState<ReadonlySet<string>>(() => new Set());
  const touch = useCallback((id: string | undefined) => {
    if (id) setTouched((t) => (t.has(id) ? t : new Set(t).add(id)));
  }, []);
  const env = envKeys(config);
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const { schema, uiSchema } = useMemo(() => formFor(type.configSchema, config), [type, env]);
  const { fieldErrors } = useMemo(() => errorsFor(issues, nodeId), [issues, nodeId]);
  const wantsConnections = useMemo(() => JSON.stringify(uiSchema).includes('"ui:widget":"connection"'), [uiSchema]);
  const connections = useConnections(wantsConnections);
  const context: FormContext = useMemo(
    () => ({
      nodeId,
      codeError: codeError ?? undefined,
      connections,
      family: type.type.split('.')[0],
      onManageConnections: () => (location.hash = '#/connections'),
      config,
      touched,
      revealAll,
      dataFields,
    }),
    [nodeId, codeError, connections, type.type, config, touched, revealAll, dataFields],
  );
  if (hasNoSettings(schema)) {
    return <p className="muted small">This node has no settings.</p>;
  }
  return (
    <Form
      className="config-form"
      schema={schema}
      uiSchema={uiSchema}
      formData={config}
      validator={validator}
      templates={templates}
      widgets={widgets}
      fields={fields}
      formContext={context}
      extraErrors={fieldErrors}
      showErrorList={false}
      noHtml5Validate
      disabled={readOnly}
      idPrefix={`cfg_${nodeId}`}
      experimental_defaultFormStateBehavior={FORM_DEFAULTS}
      onBlur={(id) => touch(id)}
      onChange={(e, id) => {
        touch(id);
        const shown = dropHidden(e.formData ?? {}, schema) as Record<string, unknown>;
        const next = pruneDefaults(shown, config, schema);
        if (JSON.stringify(next) !== JSON.stringify(config)) updateNode(nodeId, { config: next });
      }}
    />
  );
}
