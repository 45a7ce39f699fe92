import {
  type Folder,
  type NetboxDevice,
  type NetboxDeviceFilter,
  type NetboxDevicePage,
  type NetboxImportRequest,
  type NetboxImportResult,
  type NetboxSettings,
  type NetboxSiteList,
  type NetboxStatus,
  type NetboxTestResult,
  Permission,
} from '@tether/protocol';
import { type FormEvent, useCallback, useEffect, useId, useState } from 'react';
import { useAuth } from '../auth/auth-context';
import { Modal } from '../components/modal';
import { errorText } from '../lib/queries';
import { pageLabel, readNdjson } from './netbox';
import './netbox-dialog.css';

const PAGE_SIZE = 50;
const FILTERS = [
  ['q', 'Search'],
  ['site', 'Site'],
  ['role', 'Role'],
  ['platform', 'Platform'],
  ['status', 'Status'],
  ['tag', 'Tag'],
] as const;

type Progress = { phase: 'fetch' | 'save'; fetched: number; total: number };

/**
 * NetBox: store and test your token, search devices page by page, and import the selected ones
 * (or every match) as saved connections, one folder per site or into a chosen folder.
 */
export function NetboxDialog(props: { folders: Folder[]; onClose: (imported: string | null) => void }) {
  const { api, hasPermission } = useAuth();
  const id = useId();
  const canWrite = hasPermission(Permission.PROFILES_WRITE);
  const canConfigure = hasPermission(Permission.SETTINGS_MANAGE);
  const [status, setStatus] = useState<NetboxStatus | null>(null);
  const [tokenInput, setTokenInput] = useState('');
  const [test, setTest] = useState<NetboxTestResult | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [sites, setSites] = useState<NetboxSiteList['sites']>([]);
  const [draft, setDraft] = useState<NetboxDeviceFilter>({});
  const [filter, setFilter] = useState<NetboxDeviceFilter | null>(null);
  const [offset, setOffset] = useState(0);
  const [page, setPage] = useState<NetboxDevicePage | null>(null);
  const [selected, setSelected] = useState<Map<number, NetboxDevice>>(new Map());
  const [folderMode, setFolderMode] = useState<'site' | 'folder'>('site');
  const [folderId, setFolderId] = useState<string>('');
  const [progress, setProgress] = useState<Progress | null>(null);
  const [result, setResult] = useState<NetboxImportResult | null>(null);
  const [summary, setSummary] = useState<string | null>(null);

  const loadStatus = useCallback(async () => {
    try {
      setStatus(await api.get<NetboxStatus>('netbox/status'));
    } catch (err) {
      setError(errorText(err));
    }
  }, [api]);

  useEffect(() => {
    void loadStatus();
  }, [loadStatus]);

  const ready = Boolean(status?.configured && status.tokenStored);

  useEffect(() => {
    if (!ready) return;
    let cancelled = false;
    api
      .get<NetboxSiteList>('netbox/sites')
      .then((r) => !cancelled && setSites(r.sites))
      .catch(() => {});
    return () => {
      cancelled = true;
    };
  }, [api, ready]);

  // One NetBox page per request: the broker proxies it, so a page arrives in well under a second.
  useEffect(() => {
    if (!filter || !ready) return;
    const controller = new AbortController();
    const params = new URLSearchParams({ offset: String(offset), limit: String(PAGE_SIZE) });
    for (const [k, v] of Object.entries(filter)) if (v) params.set(k, v);
    setBusy('search');
    setError(null);
    api
      .get<NetboxDevicePage>(`netbox/devices?${params}`, { signal: controller.signal })
      .then(setPage)
      .catch((err: unknown) => {
        if (!controller.signal.aborted) {
          setPage(null);
          setError(errorText(err));
        }
      })
      .finally(() => {
        if (!controller.signal.aborted) setBusy(null);
      });
    return () => controller.abort();
  }, [api, filter, offset, ready]);

  const run = async (what: string, fn: () => Promise<void>) => {
    setBusy(what);
    setError(null);
    try {
      await fn();
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(null);
    }
  };

  const saveToken = (e: FormEvent) => {
    e.preventDefault();
    if (!tokenInput.trim()) return;
    void run('token', async () => {
      await api.request('PUT', 'netbox/token', { body: { token: tokenInput.trim() } });
      setTokenInput('');
      await loadStatus();
      setTest(await api.post<NetboxTestResult>('netbox/test'));
    });
  };
  const testToken = () =>
    void run('test', async () => setTest(await api.post<NetboxTestResult>('netbox/test')));
  const removeToken = () =>
    void run('token', async () => {
      await api.del('netbox/token');
      setTest(null);
      setPage(null);
      await loadStatus();
    });

  const search = (e: FormEvent) => {
    e.preventDefault();
    setOffset(0);
    setSelected(new Map());
    setFilter({ ...draft });
  };

  const toggle = (d: NetboxDevice) =>
    setSelected((prev) => {
      const next = new Map(prev);
      if (next.has(d.id)) next.delete(d.id);
      else next.set(d.id, d);
      return next;
    });
  const pageSelectable = page?.devices.filter((d) => !d.skipReason) ?? [];
  const allOnPage = pageSelectable.length > 0 && pageSelectable.every((d) => selected.has(d.id));
  const toggleAll = () =>
    setSelected((prev) => {
      const next = new Map(prev);
      for (const d of pageSelectable) {
        if (allOnPage) next.delete(d.id);
        else next.set(d.id, d);
      }
      return next;
    });

  const startImport = (which: 'selected' | 'all') =>
    void run('import', async () => {
      setResult(null);
      setProgress({
        phase: 'fetch',
        fetched: 0,
        total: which === 'all' ? (page?.count ?? 0) : selected.size,
      });
      const body: NetboxImportRequest = {
        ...(which === 'selected' ? { deviceIds: [...selected.keys()] } : { filter: filter ?? {} }),
        folderMode,
        ...(folderMode === 'folder' ? { folderId: folderId || null } : {}),
      };
      const res = await api.postStream('netbox/import', body);
      if (!res.body) throw new Error('The import answered without a body');
      const last = await readNdjson(res.body, (event) => {
        if (event.type === 'progress') setProgress(event);
      });
      setProgress(null);
      if (last?.type === 'error') throw new Error(`${last.error.message}. Nothing was imported.`);
      if (last?.type !== 'done') throw new Error('The import ended early; nothing was imported.');
      const r = last.result;
      setResult(r);
      setSelected(new Map());
      setSummary(
        `NetBox import: ${r.added} added, ${r.updated} updated, ${r.unchanged} unchanged, ${r.skipped.length} skipped.`,
      );
    }).finally(() => setProgress(null));

  return (
    <Modal
      title="Import from NetBox"
      onCancel={() => props.onClose(summary)}
      className="modal-wide modal-netbox"
    >
      <div className="form-stack">
        <section aria-labelledby={`${id}-token`} className="netbox-section">
          <h3 id={`${id}-token`}>NetBox token</h3>
          {status && !status.configured && (
            <p className="notice notice-error" role="alert">
              NetBox is not configured: an admin sets its URL {canConfigure ? 'below' : '(NETBOX_URL)'}.
            </p>
          )}
          {status?.configured && (
            <p className="muted small">
              NetBox at <code>{status.url}</code>; token {status.tokenStored ? 'stored' : 'not stored yet'}.
            </p>
          )}
          <form className="netbox-token" onSubmit={saveToken}>
            <div className="field">
              <label htmlFor={`${id}-token-input`}>NetBox API token</label>
              <input
                id={`${id}-token-input`}
                type="password"
                autoComplete="off"
                spellCheck={false}
                value={tokenInput}
                placeholder={status?.tokenStored ? '•••••••• (stored; type to replace)' : ''}
                onChange={(e) => setTokenInput(e.target.value)}
                disabled={!canWrite}
              />
            </div>
            <div className="row-actions">
              <button
                type="submit"
                className="btn btn-primary"
                disabled={!canWrite || !tokenInput.trim() || !!busy}
              >
                Save
              </button>
              <button
                type="button"
                className="btn"
                onClick={testToken}
                disabled={!status?.tokenStored || !!busy}
              >
                Test
              </button>
              <button
                type="button"
                className="btn btn-danger"
                onClick={removeToken}
                disabled={!canWrite || !status?.tokenStored || !!busy}
              >
                Remove
              </button>
            </div>
          </form>
          {busy === 'test' && (
            <p className="muted" role="status">
              Testing…
            </p>
          )}
          {test?.ok === true && (
            <p className="notice notice-ok" role="status" data-testid="netbox-test">
              Connected to NetBox {test.version}
              {test.user ? ` as ${test.user}` : ''}
              {test.deviceCount !== null ? ` (${test.deviceCount.toLocaleString('en')} devices)` : ''}.
            </p>
          )}
          {test?.ok === false && (
            <p className="notice notice-error" role="alert" data-testid="netbox-test">
              {test.error.message}
            </p>
          )}
          {canConfigure && <NetboxSettingsForm onSaved={() => void loadStatus()} />}
        </section>

        {ready && (
          <section aria-labelledby={`${id}-search`} className="netbox-section">
            <h3 id={`${id}-search`}>Find devices</h3>
            <form className="netbox-filters" onSubmit={search}>
              {FILTERS.map(([key, label]) => (
                <div className="field" key={key}>
                  <label htmlFor={`${id}-${key}`}>{label}</label>
                  <input
                    id={`${id}-${key}`}
                    type={key === 'q' ? 'search' : 'text'}
                    list={key === 'site' ? `${id}-sites` : undefined}
                    spellCheck={false}
                    placeholder={key === 'q' ? 'name, serial…' : 'slug'}
                    value={draft[key] ?? ''}
                    onChange={(e) => setDraft((d) => ({ ...d, [key]: e.target.value }))}
                  />
                </div>
              ))}
              <datalist id={`${id}-sites`}>
                {sites.map((s) => (
                  <option key={s.slug} value={s.slug}>
                    {s.name}
                  </option>
                ))}
              </datalist>
              <div className="netbox-filters-submit">
                <button type="submit" className="btn btn-primary" disabled={busy === 'search'}>
                  Search devices
                </button>
              </div>
            </form>
          </section>
        )}

        {error && (
          <div role="alert" className="notice notice-error">
            {error}
          </div>
        )}

        {page && (
          <section aria-label="NetBox devices" className="netbox-section">
            <div className="netbox-paging">
              <span role="status" aria-live="polite">
                {busy === 'search' ? 'Loading…' : pageLabel(page.offset, page.devices.length, page.count)}
                {selected.size > 0 && ` · ${selected.size} selected`}
              </span>
              <span className="row-actions">
                <button
                  type="button"
                  className="btn btn-sm"
                  disabled={offset === 0 || busy === 'search'}
                  onClick={() => setOffset(Math.max(0, offset - PAGE_SIZE))}
                >
                  Previous
                </button>
                <button
                  type="button"
                  className="btn btn-sm"
                  disabled={offset + PAGE_SIZE >= page.count || busy === 'search'}
                  onClick={() => setOffset(offset + PAGE_SIZE)}
                >
                  Next
                </button>
              </span>
            </div>
            <div className="table-wrap netbox-table">
              <table className="table">
                <thead>
                  <tr>
                    <th scope="col">
                      <input
                        type="checkbox"
                        aria-label="Select all on this page"
                        checked={allOnPage}
                        onChange={toggleAll}
                        disabled={pageSelectable.length === 0}
                      />
                    </th>
                    <th scope="col">Name</th>
                    <th scope="col">Site</th>
                    <th scope="col">Role</th>
                    <th scope="col">Platform</th>
                    <th scope="col">Address</th>
                    <th scope="col">Status</th>
                  </tr>
                </thead>
                <tbody>
                  {page.devices.map((d) => (
                    <tr key={d.id}>
                      <td>
                        <input
                          type="checkbox"
                          aria-label={`Select ${d.name}`}
                          checked={selected.has(d.id)}
                          disabled={Boolean(d.skipReason)}
                          onChange={() => toggle(d)}
                        />
                      </td>
                      <th scope="row">{d.name}</th>
                      <td>{d.site?.name ?? ''}</td>
                      <td>{d.role?.name ?? ''}</td>
                      <td>{d.platform?.name ?? ''}</td>
                      <td className="cell-clip">
                        {d.host ? (
                          `${d.host}${d.port !== 22 ? ` port ${d.port}` : ''}`
                        ) : (
                          <span className="muted" title={d.skipReason ?? ''}>
                            skipped: {d.skipReason}
                          </span>
                        )}
                      </td>
                      <td>{d.status ?? ''}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>

            {canWrite && (
              <div className="netbox-import">
                <fieldset className="radio-row">
                  <legend>Folders</legend>
                  <label className="radio">
                    <input
                      type="radio"
                      name={`${id}-folder-mode`}
                      checked={folderMode === 'site'}
                      onChange={() => setFolderMode('site')}
                    />
                    One folder per site
                  </label>
                  <label className="radio">
                    <input
                      type="radio"
                      name={`${id}-folder-mode`}
                      checked={folderMode === 'folder'}
                      onChange={() => setFolderMode('folder')}
                    />
                    Into one folder
                  </label>
                  {folderMode === 'folder' && (
                    <select
                      aria-label="Target folder"
                      value={folderId}
                      onChange={(e) => setFolderId(e.target.value)}
                    >
                      <option value="">Top level</option>
                      {props.folders.map((f) => (
                        <option key={f.id} value={f.id}>
                          {f.name}
                        </option>
                      ))}
                    </select>
                  )}
                </fieldset>
                <div className="row-actions">
                  <button
                    type="button"
                    className="btn btn-primary"
                    disabled={selected.size === 0 || !!busy}
                    onClick={() => startImport('selected')}
                  >
                    Import selected ({selected.size})
                  </button>
                  <button
                    type="button"
                    className="btn"
                    disabled={page.count === 0 || !!busy}
                    onClick={() => startImport('all')}
                  >
                    Import all matching ({page.count.toLocaleString('en')})
                  </button>
                </div>
              </div>
            )}
          </section>
        )}

        {progress && (
          <div className="netbox-progress">
            <progress
              aria-label="Import progress"
              max={Math.max(1, progress.total)}
              value={progress.phase === 'save' ? progress.total : progress.fetched}
            />
            <span className="muted small" role="status">
              {progress.phase === 'save'
                ? `Saving ${progress.total.toLocaleString('en')} devices…`
                : `Fetched ${progress.fetched.toLocaleString('en')} of ${progress.total.toLocaleString('en')} devices…`}
            </span>
          </div>
        )}

        {result && (
          <section className="notice notice-ok" aria-label="Import result" data-testid="netbox-result">
            <p>
              Imported from NetBox in {(result.ms / 1000).toFixed(1)} s: {result.added} added,{' '}
              {result.updated} updated, {result.unchanged} unchanged, {result.skipped.length} skipped
              {result.foldersAdded.length > 0 ? `; new folders: ${result.foldersAdded.join(', ')}` : ''}.
            </p>
            {result.skipped.length > 0 && (
              <details open={result.skipped.length <= 10}>
                <summary>Skipped devices ({result.skipped.length})</summary>
                <ul className="import-names" aria-label="Skipped devices">
                  {result.skipped.slice(0, 200).map((s) => (
                    <li key={s.id}>
                      {s.name}: {s.reason}
                    </li>
                  ))}
                  {result.skipped.length > 200 && (
                    <li className="muted">… and {result.skipped.length - 200} more</li>
                  )}
                </ul>
              </details>
            )}
          </section>
        )}

        <div className="modal-actions">
          <button
            type="button"
            className="btn"
            onClick={() => props.onClose(summary)}
            disabled={busy === 'import'}
          >
            Close
          </button>
        </div>
      </div>
    </Modal>
  );
}

/** Admin only: the NetBox base URL and certificate check (empty = use the environment). */
function NetboxSettingsForm(props: { onSaved: () => void }) {
  const { api } = useAuth();
  const id = useId();
  const [settings, setSettings] = useState<NetboxSettings | null>(null);
  const [url, setUrl] = useState('');
  const [verify, setVerify] = useState(true);
  const [message, setMessage] = useState<{ ok: boolean; text: string } | null>(null);

  useEffect(() => {
    api
      .get<NetboxSettings>('admin/netbox')
      .then((s) => {
        setSettings(s);
        setUrl(s.url ?? '');
        setVerify(s.effective.tlsVerify);
      })
      .catch(() => {});
  }, [api]);

  const save = async (e: FormEvent) => {
    e.preventDefault();
    try {
      const s = await api.request<NetboxSettings>('PUT', 'admin/netbox', {
        body: { url: url.trim() || null, tlsVerify: verify },
      });
      setSettings(s);
      setMessage({ ok: true, text: 'Saved.' });
      props.onSaved();
    } catch (err) {
      setMessage({ ok: false, text: errorText(err) });
    }
  };

  return (
    <details className="netbox-admin">
      <summary>NetBox settings (admin)</summary>
      <form className="form-stack" onSubmit={save}>
        <div className="field">
          <label htmlFor={`${id}-url`}>NetBox URL</label>
          <input
            id={`${id}-url`}
            type="url"
            spellCheck={false}
            placeholder={settings?.effective.url ?? 'https://netbox.example.net'}
            value={url}
            onChange={(e) => setUrl(e.target.value)}
          />
          <span className="muted small">Empty: use NETBOX_URL ({settings?.effective.url ?? 'unset'}).</span>
        </div>
        <label className="checkbox">
          <input type="checkbox" checked={verify} onChange={(e) => setVerify(e.target.checked)} />
          Verify NetBox's TLS certificate
        </label>
        <div className="row-actions">
          <button type="submit" className="btn">
            Save settings
          </button>
          {message && (
            <span role={message.ok ? 'status' : 'alert'} className={message.ok ? 'muted' : 'error-text'}>
              {message.text}
            </span>
          )}
        </div>
      </form>
    </details>
  );
}
