import {
  type ImportEntry,
  type ImportMode,
  type ImportPreview,
  type ImportResponse,
  PROFILES_IMPORT_MAX_BYTES,
} from '@tether/protocol';
import { type FormEvent, useEffect, useId, useState } from 'react';
import { useAuth } from '../auth/auth-context';
import { Modal } from '../components/modal';
import { isApiError } from '../lib/api-client';
import { errorText } from '../lib/queries';
import './import-dialog.css';

interface LoadedFile {
  name: string;
  text: string;
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
  const [mode, setMode] = useState<ImportMode>('merge');
  const [preview, setPreview] = useState<ImportPreview | null>(null);
  const [previewing, setPreviewing] = useState(false);
  const [applying, setApplying] = useState(false);
  const [error, setError] = useState<{ message: string; details: string[] } | null>(null);

  const pick = async (f: File | undefined) => {
    setPreview(null);
    setError(null);
    if (!f) {
      setFile(null);
      return;
    }
    if (f.size > PROFILES_IMPORT_MAX_BYTES) {
      setFile(null);
      setError({
        message: `The file is larger than ${PROFILES_IMPORT_MAX_BYTES / 1024 / 1024} MiB.`,
        details: [],
      });
      return;
    }
    setFile({ name: f.name, text: await f.text() });
  };

  // Every change of file or mode computes a fresh preview; a stale one is never applied.
  useEffect(() => {
    if (!file) return;
    let cancelled = false;
    setPreview(null);
    setPreviewing(true);
    setError(null);
    api
      .post<ImportResponse>('profiles/import', { yaml: file.text, mode, dryRun: true })
      .then((res) => {
        if (!cancelled) setPreview(res.preview);
      })
      .catch((err: unknown) => {
        if (!cancelled) setError(importErrorLines(err));
      })
      .finally(() => {
        if (!cancelled) setPreviewing(false);
      });
    return () => {
      cancelled = true;
    };
  }, [api, file, mode]);

  const apply = async (e: FormEvent) => {
    e.preventDefault();
    if (!file || !preview) return;
    setApplying(true);
    setError(null);
    try {
      const res = await api.post<ImportResponse>('profiles/import', { yaml: file.text, mode, dryRun: false });
      const p = res.preview;
      props.onImported(
        `Imported ${file.name}: ${p.added.length} added, ${p.updated.length} updated, ${p.unchanged.length} unchanged` +
          (res.mode === 'replace' ? `, ${p.removed.length} removed.` : '.'),
      );
    } catch (err) {
      setError(importErrorLines(err));
      setApplying(false);
    }
  };

  const changes = preview
    ? preview.added.length +
      preview.updated.length +
      preview.removed.length +
      preview.folders.added.length +
      preview.folders.removed.length
    : 0;

  return (
    <Modal title="Import connections" onCancel={props.onCancel} className="modal-wide">
      <form className="form-stack" onSubmit={apply} noValidate>
        <p className="muted">
          A VelociTerm <code>sessions.yaml</code> (folders with sessions). Sessions already here are matched
          by name, host, port and folder, so importing the same file again updates rather than duplicates.
        </p>
        <div className="field">
          <label htmlFor={`${id}-file`}>VelociTerm YAML file</label>
          <input
            id={`${id}-file`}
            type="file"
            accept=".yaml,.yml,application/yaml,text/yaml"
            autoFocus
            onChange={(e) => void pick(e.target.files?.[0])}
          />
        </div>
        <fieldset className="radio-row">
          <legend>Mode</legend>
          <label className="radio">
            <input
              type="radio"
              name={`${id}-mode`}
              checked={mode === 'merge'}
              onChange={() => setMode('merge')}
            />
            Merge
          </label>
          <label className="radio">
            <input
              type="radio"
              name={`${id}-mode`}
              checked={mode === 'replace'}
              onChange={() => setMode('replace')}
            />
            Replace
          </label>
          <span className="muted small radio-hint">
            {mode === 'merge'
              ? 'Adds new sessions and updates matching ones; keeps everything else.'
              : 'Makes your saved connections match the file: connections it does not list are deleted.'}
          </span>
        </fieldset>

        {error && (
          <div role="alert" className="notice notice-error">
            {error.message}
            {error.details.length > 0 && (
              <ul className="import-problems">
                {error.details.map((d) => (
                  <li key={d}>{d}</li>
                ))}
              </ul>
            )}
          </div>
        )}
        {previewing && (
          <p className="muted" role="status">
            Checking the file…
          </p>
        )}
        {preview && <ImportPreviewView preview={preview} mode={mode} />}

        <div className="modal-actions">
          <button type="button" className="btn" onClick={props.onCancel}>
            Cancel
          </button>
          <button
            type="submit"
            className={`btn ${mode === 'replace' && preview && preview.removed.length > 0 ? 'btn-danger' : 'btn-primary'}`}
            disabled={!preview || previewing || applying || changes === 0}
          >
            Apply import
          </button>
        </div>
      </form>
    </Modal>
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
