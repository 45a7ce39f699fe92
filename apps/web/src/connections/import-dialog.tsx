import { useQuery } from '@tanstack/react-query';
import {
  type ImportEntry,
  type ImportMode,
  type ImportPreview,
  type ImportResponse,
  PROFILES_IMPORT_MAX_BYTES,
} from '@tether/protocol';
import { useId, useState } from 'react';
import { useAuth } from '../auth/auth-context';
import { Field, FormDialog, RadioGroup } from '../components/form';
import { isApiError } from '../lib/api-client';
import { errorText, useApiMutation } from '../lib/queries';
import { SAVED_CONNECTIONS } from './use-saved-connections';
import './import-dialog.css';

interface LoadedFile {
  name: string;
  text: string;
  /** Counts the files picked, so that picking the same file again checks it again. */
  serial: number;
}

/** The broker's message plus its per-entry problems ("line 12: host is required …"). */
function importErrorLines(err: unknown): { message: string; details: string[] } {
  if (isApiError(err) && err.fields) {
    return { message: err.message, details: Object.values(err.fields).slice(0, 20) };
  }
  return { message: errorText(err), details: [] };
}

const entryLabel = (e: ImportEntry) => (e.folder ? `${e.folder} / ${e.name}` : e.name);

/**
 * VelociTerm import: pick a file and a mode, see a dry-run preview of exactly what would change,
 * then apply. Nothing is written before `Apply import`, and the apply runs the same plan again
 * on the server in one transaction.
 */
export function ImportDialog(props: { onImported: (summary: string) => void; onCancel: () => void }) {
  const { api } = useAuth();
  const id = useId();
  const [file, setFile] = useState<LoadedFile | null>(null);
  const [fileError, setFileError] = useState<string | null>(null);
  const [mode, setMode] = useState<ImportMode>('merge');

  // The preview is a read (a dry run writes nothing) keyed by file and mode: every change of
  // either checks afresh, and a stale preview is never shown or applied.
  const check = useQuery({
    queryKey: ['profiles-import-preview', file?.serial, mode],
    queryFn: ({ signal }) =>
      api.post<ImportResponse>('profiles/import', { yaml: file?.text, mode, dryRun: true }, { signal }),
    enabled: file !== null,
    staleTime: Number.POSITIVE_INFINITY,
    gcTime: 0,
  });
  const preview = check.data?.preview ?? null;
  const apply = useApiMutation(
    (api, yaml: string) => api.post<ImportResponse>('profiles/import', { yaml, mode, dryRun: false }),
    SAVED_CONNECTIONS,
  );

  const pick = async (f: File | undefined) => {
    apply.reset();
    setFileError(null);
    if (f && f.size > PROFILES_IMPORT_MAX_BYTES) {
      setFileError(`The file is larger than ${PROFILES_IMPORT_MAX_BYTES / 1024 / 1024} MiB.`);
      f = undefined;
    }
    setFile(f ? { name: f.name, text: await f.text(), serial: (file?.serial ?? 0) + 1 } : null);
  };

  const submit = async () => {
    if (!file || !preview) return;
    try {
      const p = (await apply.mutateAsync(file.text)).preview;
      props.onImported(
        `Imported ${file.name}: ${p.added.length} added, ${p.updated.length} updated, ${p.unchanged.length} unchanged` +
          (mode === 'replace' ? `, ${p.removed.length} removed.` : '.'),
      );
    } catch {
      // Said below, from apply.error.
    }
  };

  const failure = fileError
    ? { message: fileError, details: [] }
    : apply.error || check.error
      ? importErrorLines(apply.error ?? check.error)
      : null;
  const changes = preview
    ? preview.added.length +
      preview.updated.length +
      preview.removed.length +
      preview.folders.added.length +
      preview.folders.removed.length
    : 0;

  return (
    <FormDialog
      title="Import connections"
      onCancel={props.onCancel}
      onSubmit={submit}
      submitLabel="Apply import"
      wide
      danger={mode === 'replace' && !!preview && preview.removed.length > 0}
      canSubmit={!!preview && !check.isFetching && !apply.isPending && changes > 0}
      intro={
        <p className="muted">
          A VelociTerm <code>sessions.yaml</code> (folders with sessions). Sessions already here are matched
          by name, host, port and folder, so importing the same file again updates rather than duplicates.
        </p>
      }
    >
      <Field id={`${id}-file`} label="VelociTerm YAML file">
        {(a11y) => (
          <input
            {...a11y}
            type="file"
            accept=".yaml,.yml,application/yaml,text/yaml"
            autoFocus
            onChange={(e) => void pick(e.target.files?.[0])}
          />
        )}
      </Field>
      <RadioGroup
        legend="Mode"
        options={[
          ['merge', 'Merge'],
          ['replace', 'Replace'],
        ]}
        value={mode}
        onChange={(m) => {
          apply.reset();
          setMode(m);
        }}
        hint={
          mode === 'merge'
            ? 'Adds new sessions and updates matching ones; keeps everything else.'
            : 'Makes your saved connections match the file: connections it does not list are deleted.'
        }
      />
      {failure && (
        <div role="alert" className="notice notice-error">
          {failure.message}
          {failure.details.length > 0 && (
            <ul className="import-problems">
              {failure.details.map((d) => (
                <li key={d}>{d}</li>
              ))}
            </ul>
          )}
        </div>
      )}
      {check.isFetching && (
        <p className="muted" role="status">
          Checking the file…
        </p>
      )}
      {preview && <ImportPreviewView preview={preview} mode={mode} />}
    </FormDialog>
  );
}

function ImportPreviewView({ preview, mode }: { preview: ImportPreview; mode: ImportMode }) {
  const id = useId();
  const groups: Array<{ key: string; label: string; entries: string[]; tone?: 'danger' }> = [
    { key: 'added', label: 'To add', entries: preview.added.map(entryLabel) },
    { key: 'updated', label: 'To update', entries: preview.updated.map(entryLabel) },
    { key: 'unchanged', label: 'Unchanged', entries: preview.unchanged.map(entryLabel) },
    { key: 'folders-added', label: 'New folders', entries: preview.folders.added },
  ];
  if (mode === 'replace') {
    groups.push(
      { key: 'removed', label: 'To delete', entries: preview.removed.map(entryLabel), tone: 'danger' },
      {
        key: 'folders-removed',
        label: 'Folders to delete',
        entries: preview.folders.removed,
        tone: 'danger',
      },
    );
  }
  const nothing =
    preview.added.length + preview.updated.length + preview.removed.length + preview.folders.added.length ===
    0;
  return (
    <section className="import-preview" aria-labelledby={`${id}-title`}>
      <h3 id={`${id}-title`}>Preview</h3>
      <dl className="import-counts">
        {groups.map((g) => (
          <div key={g.key} className={g.tone === 'danger' && g.entries.length > 0 ? 'count-danger' : ''}>
            <dt>{g.label}</dt>
            <dd>{g.entries.length}</dd>
          </div>
        ))}
      </dl>
      {nothing && <p className="muted">Nothing to change: your saved connections already match this file.</p>}
      {groups
        .filter((g) => g.entries.length > 0 && g.key !== 'unchanged')
        .map((g) => (
          <details key={g.key} open={g.entries.length <= 12}>
            <summary>
              {g.label} ({g.entries.length})
            </summary>
            <ul className="import-names" aria-label={g.label}>
              {g.entries.slice(0, 200).map((name) => (
                <li key={name}>{name}</li>
              ))}
              {g.entries.length > 200 && <li className="muted">… and {g.entries.length - 200} more</li>}
            </ul>
          </details>
        ))}
    </section>
  );
}
