import {
  type Folder,
  NetboxBaseUrlSchema,
  type NetboxDevice,
  type NetboxDeviceFilter,
  NetboxDeviceFilterSchema,
  type NetboxDevicePage,
  type NetboxImportRequest,
  type NetboxImportResult,
  type NetboxSettings,
  type NetboxSiteList,
  type NetboxStatus,
  type NetboxTestResult,
  type NetboxTokenRequest,
  NetboxTokenRequestSchema,
  Permission,
  type UpdateNetboxSettingsRequest,
} from '@tether/protocol';
import { useId, useState } from 'react';
import { z } from 'zod';
import { useAuth } from '../auth/auth-context';
import { Field, RadioGroup, useSchemaForm, useSubmit } from '../components/form';
import { Modal } from '../components/modal';
import { ErrorNotice } from '../components/notice';
import { isApiError } from '../lib/api-client';
import { errorText, useApiMutation, useApiQuery } from '../lib/queries';
import { FolderOptions } from './connection-dialogs';
import { pageLabel, readNdjson } from './netbox';
import { SAVED_CONNECTIONS } from './use-saved-connections';
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

const NO_FILTER = { q: '', site: '', role: '', platform: '', status: '', tag: '' };

function devicesPath(filter: NetboxDeviceFilter, offset: number): string {
  const params = new URLSearchParams({ offset: String(offset), limit: String(PAGE_SIZE) });
  for (const [k, v] of Object.entries(filter)) if (v) params.set(k, v);
  return `netbox/devices?${params}`;
}

type Progress = { phase: 'fetch' | 'save'; fetched: number; total: number };

/**
 * NetBox: store and test your token, search devices page by page, and import the selected ones
 * (or every match) as saved connections, one folder per site or into a chosen folder.
 */
export function NetboxDialog(props: { folders: Folder[]; onClose: (imported: string | null) => void }) {
  const { hasPermission } = useAuth();
  const id = useId();
  const canWrite = hasPermission(Permission.PROFILES_WRITE);
  const canConfigure = hasPermission(Permission.SETTINGS_MANAGE);

  const statusQuery = useApiQuery<NetboxStatus>('netbox/status');
  const status = statusQuery.data ?? null;
  const ready = Boolean(status?.configured && status.tokenStored);
  const sites = useApiQuery<NetboxSiteList>(ready ? 'netbox/sites' : null).data?.sites ?? [];
  // One NetBox page per request: the broker proxies it, so a page arrives in well under a second.
  const [filter, setFilter] = useState<NetboxDeviceFilter | null>(null);
  const [offset, setOffset] = useState(0);
  const devices = useApiQuery<NetboxDevicePage>(filter && ready ? devicesPath(filter, offset) : null, {
    keepPrevious: true,
  });
  const page = filter && ready ? (devices.data ?? null) : null;
  const searching = devices.isFetching;

  const [selected, setSelected] = useState<Map<number, NetboxDevice>>(new Map());
  const [folderMode, setFolderMode] = useState<'site' | 'folder'>('site');
  const [folderId, setFolderId] = useState<string>('');
  const [progress, setProgress] = useState<Progress | null>(null);
  const [result, setResult] = useState<NetboxImportResult | null>(null);
  const [summary, setSummary] = useState<string | null>(null);
  const [actionError, setActionError] = useState<string | null>(null);

  const test = useApiMutation((api) => api.post<NetboxTestResult>('netbox/test'));
  const saveToken = useApiMutation(
    (api, body: NetboxTokenRequest) => api.request('PUT', 'netbox/token', { body }),
    ['netbox'],
  );
  const removeToken = useApiMutation((api) => api.del('netbox/token'), ['netbox']);
  const importer = useApiMutation(async (api, body: NetboxImportRequest) => {
    const res = await api.postStream('netbox/import', body);
    if (!res.body) throw new Error('The import answered without a body');
    const last = await readNdjson(res.body, (event) => {
      if (event.type === 'progress') setProgress(event);
    });
    if (last?.type === 'error') throw new Error(`${last.error.message}. Nothing was imported.`);
    if (last?.type !== 'done') throw new Error('The import ended early; nothing was imported.');
    return last.result;
  }, SAVED_CONNECTIONS);
  const busy = saveToken.isPending || removeToken.isPending || test.isPending || importer.isPending;

  /** Runs one action of the dialog; its failure is the dialog's message until the next action. */
  const act = async (fn: () => Promise<void>) => {
    setActionError(null);
    try {
      await fn();
    } catch (err) {
      setActionError(!isApiError(err) && err instanceof Error ? err.message : errorText(err));
    }
  };

  const tokenForm = useSchemaForm(NetboxTokenRequestSchema, { defaultValues: { token: '' } });
  const tokenTyped = tokenForm.watch('token').trim() !== '';
  const submitToken = tokenForm.handleSubmit((body) =>
    act(async () => {
      await saveToken.mutateAsync(body);
      tokenForm.reset();
      await test.mutateAsync();
    }),
  );
  const testToken = () => void act(async () => void (await test.mutateAsync()));
  const forgetToken = () =>
    void act(async () => {
      await removeToken.mutateAsync();
      test.reset();
    });

  const filterForm = useSchemaForm(NetboxDeviceFilterSchema, { defaultValues: NO_FILTER });
  const search = filterForm.handleSubmit((values) => {
    setOffset(0);
    setSelected(new Map());
    setFilter(values);
  });

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
    void act(async () => {
      setResult(null);
      setProgress({
        phase: 'fetch',
        fetched: 0,
        total: which === 'all' ? (page?.count ?? 0) : selected.size,
      });
      try {
        const r = await importer.mutateAsync({
          ...(which === 'selected' ? { deviceIds: [...selected.keys()] } : { filter: filter ?? {} }),
          folderMode,
          ...(folderMode === 'folder' ? { folderId: folderId || null } : {}),
        });
        setResult(r);
        setSelected(new Map());
        setSummary(
          `NetBox import: ${r.added} added, ${r.updated} updated, ${r.unchanged} unchanged, ${r.skipped.length} skipped.`,
        );
      } finally {
        setProgress(null);
      }
    });

  const queryError = statusQuery.error ?? devices.error;
  const error = actionError ?? (queryError ? errorText(queryError) : null);

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
          <form className="netbox-token" onSubmit={submitToken} noValidate>
            <Field id={`${id}-token-input`} label="NetBox API token" error={tokenForm.formState.errors.token}>
              {(a11y) => (
                <input
                  {...a11y}
                  type="password"
                  autoComplete="off"
                  spellCheck={false}
                  placeholder={status?.tokenStored ? '•••••••• (stored; type to replace)' : ''}
                  disabled={!canWrite}
                  {...tokenForm.register('token')}
                />
              )}
            </Field>
            <div className="row-actions">
              <button type="submit" className="btn btn-primary" disabled={!canWrite || !tokenTyped || busy}>
                Save
              </button>
              <button
                type="button"
                className="btn"
                onClick={testToken}
                disabled={!status?.tokenStored || busy}
              >
                Test
              </button>
              <button
                type="button"
                className="btn btn-danger"
                onClick={forgetToken}
                disabled={!canWrite || !status?.tokenStored || busy}
              >
                Remove
              </button>
            </div>
          </form>
          {test.isPending && (
            <p className="muted" role="status">
              Testing…
            </p>
          )}
          {test.data?.ok === true && (
            <p className="notice notice-ok" role="status" data-testid="netbox-test">
              Connected to NetBox {test.data.version}
              {test.data.user ? ` as ${test.data.user}` : ''}
              {test.data.deviceCount !== null
                ? ` (${test.data.deviceCount.toLocaleString('en')} devices)`
                : ''}
              .
            </p>
          )}
          {test.data?.ok === false && (
            <p className="notice notice-error" role="alert" data-testid="netbox-test">
              {test.data.error.message}
            </p>
          )}
          {canConfigure && <NetboxSettingsForm />}
        </section>

        {ready && (
          <section aria-labelledby={`${id}-search`} className="netbox-section">
            <h3 id={`${id}-search`}>Find devices</h3>
            <form className="netbox-filters" onSubmit={search} noValidate>
              {FILTERS.map(([key, label]) => (
                <Field id={`${id}-${key}`} key={key} label={label} error={filterForm.formState.errors[key]}>
                  {(a11y) => (
                    <input
                      {...a11y}
                      type={key === 'q' ? 'search' : 'text'}
                      list={key === 'site' ? `${id}-sites` : undefined}
                      spellCheck={false}
                      placeholder={key === 'q' ? 'name, serial…' : 'slug'}
                      {...filterForm.register(key)}
                    />
                  )}
                </Field>
              ))}
              <datalist id={`${id}-sites`}>
                {sites.map((s) => (
                  <option key={s.slug} value={s.slug}>
                    {s.name}
                  </option>
                ))}
              </datalist>
              <div className="netbox-filters-submit">
                <button type="submit" className="btn btn-primary" disabled={searching}>
                  Search devices
                </button>
              </div>
            </form>
          </section>
        )}

        <ErrorNotice error={error} />

        {page && (
          <section aria-label="NetBox devices" className="netbox-section">
            <div className="netbox-paging">
              <span role="status" aria-live="polite">
                {searching ? 'Loading…' : pageLabel(page.offset, page.devices.length, page.count)}
                {selected.size > 0 && ` · ${selected.size} selected`}
              </span>
              <span className="row-actions">
                <button
                  type="button"
                  className="btn btn-sm"
                  disabled={offset === 0 || searching}
                  onClick={() => setOffset(Math.max(0, offset - PAGE_SIZE))}
                >
                  Previous
                </button>
                <button
                  type="button"
                  className="btn btn-sm"
                  disabled={offset + PAGE_SIZE >= page.count || searching}
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
                <RadioGroup
                  legend="Folders"
                  options={[
                    ['site', 'One folder per site'],
                    ['folder', 'Into one folder'],
                  ]}
                  value={folderMode}
                  onChange={setFolderMode}
                  hint={
                    folderMode === 'folder' && (
                      <select
                        aria-label="Target folder"
                        value={folderId}
                        onChange={(e) => setFolderId(e.target.value)}
                      >
                        <FolderOptions folders={props.folders} />
                      </select>
                    )
                  }
                />
                <div className="row-actions">
                  <button
                    type="button"
                    className="btn btn-primary"
                    disabled={selected.size === 0 || busy}
                    onClick={() => startImport('selected')}
                  >
                    Import selected ({selected.size})
                  </button>
                  <button
                    type="button"
                    className="btn"
                    disabled={page.count === 0 || busy}
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
            disabled={importer.isPending}
          >
            Close
          </button>
        </div>
      </div>
    </Modal>
  );
}

/** The settings form's text: an empty URL means "use NETBOX_URL". */
const NetboxSettingsFormSchema = z.object({
  url: z
    .string()
    .trim()
    .transform((v) => v || null)
    .pipe(NetboxBaseUrlSchema.nullable()),
  tlsVerify: z.boolean(),
});

/** Admin only: the NetBox base URL and certificate check (empty = use the environment). */
function NetboxSettingsForm() {
  const settings = useApiQuery<NetboxSettings>('admin/netbox');
  return (
    <details className="netbox-admin">
      <summary>NetBox settings (admin)</summary>
      <ErrorNotice error={settings.error} />
      {settings.data && <NetboxSettingsFields settings={settings.data} />}
    </details>
  );
}

function NetboxSettingsFields({ settings }: { settings: NetboxSettings }) {
  const id = useId();
  const form = useSchemaForm(NetboxSettingsFormSchema, {
    defaultValues: { url: settings.url ?? '', tlsVerify: settings.effective.tlsVerify },
  });
  const [saved, setSaved] = useState(false);
  const update = useApiMutation(
    (api, body: UpdateNetboxSettingsRequest) => api.request<NetboxSettings>('PUT', 'admin/netbox', { body }),
    ['admin/netbox', 'netbox'],
  );
  const { submit, error } = useSubmit(form, async (body) => {
    setSaved(false);
    await update.mutateAsync(body);
    setSaved(true);
  });
  return (
    <form className="form-stack" onSubmit={submit} noValidate>
      <Field id={`${id}-url`} label="NetBox URL" error={form.formState.errors.url}>
        {(a11y) => (
          <>
            <input
              {...a11y}
              type="url"
              spellCheck={false}
              placeholder={settings.effective.url ?? 'https://netbox.example.net'}
              {...form.register('url')}
            />
            <span className="muted small">Empty: use NETBOX_URL ({settings.effective.url ?? 'unset'}).</span>
          </>
        )}
      </Field>
      <label className="checkbox">
        <input type="checkbox" {...form.register('tlsVerify')} />
        Verify NetBox's TLS certificate
      </label>
      <div className="row-actions">
        <button type="submit" className="btn">
          Save settings
        </button>
        {saved && (
          <span role="status" className="muted">
            Saved.
          </span>
        )}
        {error && (
          <span role="alert" className="error-text">
            {error}
          </span>
        )}
      </div>
    </form>
  );
}
