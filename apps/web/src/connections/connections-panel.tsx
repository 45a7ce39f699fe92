import { type Folder, Permission, type Profile, type SshAuth } from '@tether/protocol';
import {
  type DragEvent,
  type KeyboardEvent,
  type MouseEvent,
  useEffect,
  useId,
  useMemo,
  useRef,
  useState,
} from 'react';
import { useAuth } from '../auth/auth-context';
import { Icon, IconButton } from '../components/icons';
import { saveBlob } from '../lib/download';
import { errorText, useApiMutation } from '../lib/queries';
import {
  ConnectProfileDialog,
  DeleteFolderDialog,
  DeleteProfileDialog,
  FolderNameDialog,
  MoveProfileDialog,
} from './connection-dialogs';
import { ImportDialog } from './import-dialog';
import { NetboxDialog } from './netbox-dialog';
import { ProfileDialog } from './profile-dialog';
import {
  compareNames,
  groupByFolder,
  hostLabel,
  type MissingForConnect,
  missingForConnect,
  needsConnectDialog,
  sortFolders,
} from './saved-connections';
import { SAVED_CONNECTIONS, useProfileSearch, useSavedConnections } from './use-saved-connections';
import './connections-panel.css';

type DialogState =
  /** New (in `folderId`) or edit (`profile`). */
  | { kind: 'profile'; profile?: Profile; folderId?: string | null }
  | { kind: 'move-profile'; profile: Profile }
  | { kind: 'delete-profile'; profile: Profile }
  | { kind: 'connect'; profile: Profile; missing: MissingForConnect }
  /** New or rename (`folder`). */
  | { kind: 'folder-name'; folder?: Folder }
  | { kind: 'delete-folder'; folder: Folder }
  | { kind: 'import' }
  | { kind: 'netbox' };

const DRAG_TYPE = 'application/x-tether-profile';
/** Above this many folders, folders start collapsed. */
const EXPAND_ALL_UP_TO = 6;
const ROOT_KEY = 'root';

export interface ConnectionsPanelProps {
  visible: boolean;
  canConnect: boolean;
  /** Opens a terminal tab, the same path as New connection, with `profileId` instead of a target. */
  onOpen: (profile: Profile, auth: SshAuth | undefined) => void;
}

/** Saved connections: folders, search, CRUD, move, import/export; Enter or double-click connects. */
export function ConnectionsPanel(props: ConnectionsPanelProps) {
  const auth = useAuth();
  const { api } = auth;
  const canWrite = auth.hasPermission(Permission.PROFILES_WRITE);
  const data = useSavedConnections(props.visible);
  const [query, setQuery] = useState('');
  const search = useProfileSearch(query);
  const [dialog, setDialog] = useState<DialogState | null>(null);
  const [message, setMessage] = useState<{ kind: 'ok' | 'error'; text: string } | null>(null);
  const [collapsed, setCollapsed] = useState<Set<string> | null>(null);
  const [dropTarget, setDropTarget] = useState<string | null>(null);
  const treeRef = useRef<HTMLUListElement>(null);
  const headingId = useId();

  // Start collapsed when there are many folders; later toggles are the user's.
  useEffect(() => {
    if (collapsed === null && data.loaded) {
      setCollapsed(
        data.folders.length > EXPAND_ALL_UP_TO ? new Set(data.folders.map((f) => f.id)) : new Set(),
      );
    }
  }, [collapsed, data.loaded, data.folders]);

  useEffect(() => {
    if (message?.kind !== 'ok') return;
    const t = setTimeout(() => setMessage(null), 6000);
    return () => clearTimeout(t);
  }, [message]);

  const say = (text: string) => setMessage({ kind: 'ok', text });
  const moveProfile = useApiMutation(
    (api, v: { profileId: string; folderId: string | null }) =>
      api.post(`profiles/${v.profileId}/move`, { folderId: v.folderId }),
    SAVED_CONNECTIONS,
  );

  const folders = useMemo(() => sortFolders(data.folders), [data.folders]);
  const folderLabel = (id: string | null) =>
    id ? (data.folders.find((f) => f.id === id)?.name ?? 'folder') : 'no folder';
  const searching = query.trim().length > 0;
  const shown = searching ? (search.results ?? []) : data.profiles;
  const groups = useMemo(() => groupByFolder(shown), [shown]);
  const allGroups = useMemo(() => groupByFolder(data.profiles), [data.profiles]);
  const deviceTypes = useMemo(
    () =>
      [...new Set(data.profiles.map((p) => p.deviceType).filter((d): d is string => !!d))].sort(compareNames),
    [data.profiles],
  );

  const connect = (p: Profile) => {
    if (!props.canConnect) return;
    const missing = missingForConnect(p, data.credentials);
    if (needsConnectDialog(missing)) setDialog({ kind: 'connect', profile: p, missing });
    else props.onOpen(p, undefined);
  };

  const exportYaml = async () => {
    try {
      const file = await api.download('profiles/export');
      saveBlob(file.blob, file.filename ?? 'sessions.yaml');
      setMessage({ kind: 'ok', text: 'Exported saved connections as VelociTerm YAML.' });
    } catch (err) {
      setMessage({ kind: 'error', text: errorText(err) });
    }
  };

  const move = async (profileId: string, folderId: string | null) => {
    const p = data.profiles.find((x) => x.id === profileId);
    if (!p || p.folderId === folderId) return;
    try {
      await moveProfile.mutateAsync({ profileId, folderId });
      say(`Moved ${p.name} to ${folderLabel(folderId)}.`);
    } catch (err) {
      setMessage({ kind: 'error', text: errorText(err) });
    }
  };

  const isOpen = (key: string) => searching || !collapsed?.has(key);
  const toggle = (key: string, open?: boolean) =>
    setCollapsed((prev) => {
      const next = new Set(prev ?? []);
      const willOpen = open ?? next.has(key);
      if (willOpen) next.delete(key);
      else next.add(key);
      return next;
    });

  // Arrow keys walk the visible folders and connections; Tab still reaches every button.
  const onTreeKey = (e: KeyboardEvent<HTMLUListElement>) => {
    const target = e.target as HTMLElement;
    if (!target.classList.contains('conn-nav')) return;
    const items = [...(treeRef.current?.querySelectorAll<HTMLElement>('.conn-nav') ?? [])];
    const i = items.indexOf(target);
    let next: HTMLElement | undefined;
    if (e.key === 'ArrowDown') next = items[i + 1];
    else if (e.key === 'ArrowUp') next = items[i - 1];
    else if (e.key === 'Home') next = items[0];
    else if (e.key === 'End') next = items[items.length - 1];
    else if (e.key === 'ArrowLeft' && target.dataset.kind === 'profile')
      next = target.closest('.conn-folder')?.querySelector<HTMLElement>('.conn-folder-toggle') ?? undefined;
    else return;
    e.preventDefault();
    next?.focus();
  };

  const dragProps = (key: string, folderId: string | null) =>
    canWrite
      ? {
          onDragOver: (e: DragEvent) => {
            if (!e.dataTransfer.types.includes(DRAG_TYPE)) return;
            e.preventDefault();
            e.dataTransfer.dropEffect = 'move';
            setDropTarget(key);
          },
          onDragLeave: (e: DragEvent) => {
            if (!(e.currentTarget as Node).contains(e.relatedTarget as Node | null)) setDropTarget(null);
          },
          onDrop: (e: DragEvent) => {
            e.preventDefault();
            setDropTarget(null);
            const id = e.dataTransfer.getData(DRAG_TYPE);
            if (id) void move(id, folderId);
          },
        }
      : {};

  const renderProfile = (p: Profile) => (
    <ProfileItem
      key={p.id}
      profile={p}
      canWrite={canWrite}
      canConnect={props.canConnect}
      onConnect={() => connect(p)}
      onEdit={() => setDialog({ kind: 'profile', profile: p })}
      onMove={() => setDialog({ kind: 'move-profile', profile: p })}
      onDelete={() => setDialog({ kind: 'delete-profile', profile: p })}
    />
  );

  const renderFolder = (key: string, folder: Folder | null, profiles: Profile[]) => {
    const open = isOpen(key);
    const name = folder?.name ?? 'No folder';
    const count = profiles.length;
    return (
      <li
        key={key}
        className={`conn-folder ${dropTarget === key ? 'conn-drop' : ''}`}
        data-folder-id={folder?.id ?? ROOT_KEY}
        {...dragProps(key, folder?.id ?? null)}
      >
        <div className="conn-row">
          <button
            type="button"
            className="conn-nav conn-folder-toggle"
            data-kind="folder"
            aria-expanded={open}
            aria-label={`${name}, ${count} ${count === 1 ? 'connection' : 'connections'}`}
            onClick={() => !searching && toggle(key)}
            onKeyDown={(e) => {
              if (searching) return;
              if (e.key === 'ArrowRight' && !open) {
                e.preventDefault();
                toggle(key, true);
              } else if (e.key === 'ArrowLeft' && open) {
                e.preventDefault();
                e.stopPropagation();
                toggle(key, false);
              }
            }}
          >
            <Icon name={open ? 'chevronDown' : 'chevronRight'} className="conn-chevron" />
            <span className={`conn-folder-name ${folder ? '' : 'muted'}`}>{name}</span>
            <span className="conn-count" aria-hidden="true">
              {count}
            </span>
          </button>
          {canWrite && folder && (
            <span className="conn-actions">
              <IconButton
                icon="plus"
                label={`New connection in ${name}`}
                title="New connection in this folder"
                onClick={() => setDialog({ kind: 'profile', folderId: folder.id })}
              />
              <IconButton
                icon="edit"
                label={`Rename folder ${name}`}
                title="Rename folder"
                onClick={() => setDialog({ kind: 'folder-name', folder })}
              />
              <IconButton
                icon="trash"
                label={`Delete folder ${name}`}
                title="Delete folder"
                danger
                onClick={() => setDialog({ kind: 'delete-folder', folder })}
              />
            </span>
          )}
        </div>
        {open && profiles.length > 0 && (
          <ul className="conn-profiles" aria-label={name}>
            {profiles.map(renderProfile)}
          </ul>
        )}
      </li>
    );
  };

  const rootProfiles = groups.get(null) ?? [];
  const visibleFolders = searching ? folders.filter((f) => (groups.get(f.id)?.length ?? 0) > 0) : folders;
  const empty = data.loaded && data.folders.length === 0 && data.profiles.length === 0;
  const closeDialog = () => setDialog(null);
  /** A dialog's change is made (its mutation refetched what it changed): close it, say what happened. */
  const done = (text: string) => {
    closeDialog();
    say(text);
  };

  return (
    <section className="conn-panel" aria-labelledby={headingId}>
      <div className="panel-head">
        <h2 id={headingId}>Connections</h2>
        <div className="panel-tools">
          {canWrite && (
            <>
              <IconButton
                icon="plus"
                label="New saved connection"
                title="New saved connection"
                onClick={() => setDialog({ kind: 'profile', folderId: null })}
              />
              <IconButton
                icon="folderPlus"
                label="New folder"
                title="New folder"
                onClick={() => setDialog({ kind: 'folder-name' })}
              />
              <IconButton
                icon="upload"
                label="Import connections"
                title="Import VelociTerm YAML"
                onClick={() => setDialog({ kind: 'import' })}
              />
            </>
          )}
          {/* Not "Import from NetBox": other tests' getByLabel('From') would match it. */}
          <IconButton
            icon="server"
            label="NetBox"
            title="Find devices in NetBox and import them"
            onClick={() => setDialog({ kind: 'netbox' })}
          />
          <IconButton
            icon="download"
            label="Export connections"
            title="Export as VelociTerm YAML"
            disabled={empty}
            onClick={() => void exportYaml()}
          />
        </div>
      </div>
      <div className="conn-search">
        <Icon name="search" className="conn-search-icon" />
        <input
          type="search"
          aria-label="Search connections"
          placeholder="Search name, host, type, tag…"
          value={query}
          spellCheck={false}
          onChange={(e) => setQuery(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === 'Escape' && query) {
              e.preventDefault();
              setQuery('');
            } else if (e.key === 'ArrowDown') {
              e.preventDefault();
              treeRef.current
                ?.querySelector<HTMLElement>(searching ? '.conn-profile-main' : '.conn-nav')
                ?.focus();
            }
          }}
        />
      </div>
      <div className="conn-messages">
        {message && (
          <p
            role={message.kind === 'error' ? 'alert' : 'status'}
            className={`notice notice-${message.kind === 'error' ? 'error' : 'ok'}`}
          >
            {message.text}
          </p>
        )}
        {(data.error || search.error) && (
          <p role="alert" className="notice notice-error">
            {data.error ?? search.error}
          </p>
        )}
      </div>
      {!data.loaded && !data.error && <p className="muted pad">Loading…</p>}
      {empty && (
        <div className="pad conn-empty">
          <p className="muted">No saved connections yet.</p>
          {canWrite && (
            <div className="conn-empty-actions">
              <button
                type="button"
                className="btn btn-sm"
                onClick={() => setDialog({ kind: 'profile', folderId: null })}
              >
                Add a connection
              </button>
              <button type="button" className="btn btn-sm" onClick={() => setDialog({ kind: 'import' })}>
                Import VelociTerm YAML…
              </button>
            </div>
          )}
        </div>
      )}
      {searching && search.results && search.results.length === 0 && (
        <p className="muted pad">No connections match “{query.trim()}”.</p>
      )}
      {data.loaded && !empty && (
        <ul className="conn-tree" ref={treeRef} aria-label="Folders" onKeyDown={onTreeKey}>
          {visibleFolders.map((f) => renderFolder(f.id, f, groups.get(f.id) ?? []))}
          {rootProfiles.length > 0 && renderFolder(ROOT_KEY, null, rootProfiles)}
        </ul>
      )}

      {dialog?.kind === 'profile' && (
        <ProfileDialog
          profile={dialog.profile}
          folderId={dialog.folderId}
          folders={data.folders}
          credentials={data.credentials}
          deviceTypes={deviceTypes}
          onSaved={(p) => done(`Saved ${p.name}.`)}
          onCancel={closeDialog}
        />
      )}
      {dialog?.kind === 'move-profile' && (
        <MoveProfileDialog
          profile={dialog.profile}
          folders={data.folders}
          onDone={(p) => done(`Moved ${p.name} to ${folderLabel(p.folderId)}.`)}
          onCancel={closeDialog}
        />
      )}
      {dialog?.kind === 'delete-profile' && (
        <DeleteProfileDialog
          profile={dialog.profile}
          onDone={() => done(`Deleted ${dialog.profile.name}.`)}
          onCancel={closeDialog}
        />
      )}
      {dialog?.kind === 'connect' && (
        <ConnectProfileDialog
          profile={dialog.profile}
          missing={dialog.missing}
          onConnect={(sshAuth) => {
            closeDialog();
            props.onOpen(dialog.profile, sshAuth);
          }}
          onCancel={closeDialog}
        />
      )}
      {dialog?.kind === 'folder-name' && (
        <FolderNameDialog
          folder={dialog.folder}
          onDone={(f) => done(dialog.folder ? `Folder renamed to ${f.name}.` : `Folder ${f.name} created.`)}
          onCancel={closeDialog}
        />
      )}
      {dialog?.kind === 'delete-folder' && (
        <DeleteFolderDialog
          folder={dialog.folder}
          folders={data.folders}
          profiles={allGroups.get(dialog.folder.id) ?? []}
          onDone={done}
          onCancel={closeDialog}
        />
      )}
      {dialog?.kind === 'netbox' && (
        <NetboxDialog
          folders={data.folders}
          onClose={(imported) => {
            closeDialog();
            if (imported) {
              setCollapsed(null);
              say(imported);
            }
          }}
        />
      )}
      {dialog?.kind === 'import' && (
        <ImportDialog
          onImported={(text) => {
            closeDialog();
            setCollapsed(null);
            say(text);
          }}
          onCancel={closeDialog}
        />
      )}
    </section>
  );
}

function ProfileItem(props: {
  profile: Profile;
  canWrite: boolean;
  canConnect: boolean;
  onConnect: () => void;
  onEdit: () => void;
  onMove: () => void;
  onDelete: () => void;
}) {
  const { profile: p } = props;
  const subId = useId();
  const sub = [hostLabel(p), p.deviceType].filter(Boolean).join(' · ');

  const onKeyDown = (e: KeyboardEvent<HTMLButtonElement>) => {
    if (e.key === 'Enter') {
      e.preventDefault();
      props.onConnect();
    } else if (e.key === 'F2' && props.canWrite) {
      e.preventDefault();
      props.onEdit();
    } else if (e.key === 'Delete' && props.canWrite) {
      e.preventDefault();
      props.onDelete();
    }
  };
  // A mouse click only selects (double-click connects); a keyboard or assistive-technology
  // activation (detail 0: Space, screen readers) connects.
  const onClick = (e: MouseEvent<HTMLButtonElement>) => {
    if (e.detail === 0) props.onConnect();
  };

  return (
    <li
      className="conn-profile"
      data-profile-id={p.id}
      draggable={props.canWrite}
      onDragStart={(e) => {
        e.dataTransfer.setData(DRAG_TYPE, p.id);
        e.dataTransfer.effectAllowed = 'move';
      }}
    >
      <div className="conn-row">
        <button
          type="button"
          className="conn-nav conn-profile-main"
          data-kind="profile"
          aria-label={p.name}
          aria-describedby={subId}
          title={`${p.name}: ${props.canConnect ? 'double-click or Enter to connect' : sub}${props.canWrite ? ', F2 to edit' : ''}`}
          onClick={onClick}
          onDoubleClick={props.onConnect}
          onKeyDown={onKeyDown}
        >
          <span className="conn-profile-name">{p.name}</span>
          <span className="conn-profile-sub" id={subId}>
            {sub}
            {p.tags.length > 0 && <span className="conn-tags"> {p.tags.map((t) => `#${t}`).join(' ')}</span>}
          </span>
        </button>
        <span className="conn-actions">
          {props.canConnect && (
            <IconButton
              icon="play"
              label={`Connect to ${p.name}`}
              title="Connect"
              onClick={props.onConnect}
            />
          )}
          {props.canWrite && (
            <>
              <IconButton icon="edit" label={`Edit ${p.name}`} title="Edit (F2)" onClick={props.onEdit} />
              <IconButton
                icon="move"
                label={`Move ${p.name}`}
                title="Move to folder"
                onClick={props.onMove}
              />
              <IconButton
                icon="trash"
                label={`Delete ${p.name}`}
                title="Delete (Del)"
                danger
                onClick={props.onDelete}
              />
            </>
          )}
        </span>
      </div>
    </li>
  );
}
