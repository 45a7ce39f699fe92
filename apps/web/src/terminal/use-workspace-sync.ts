import type { TerminalSummary, Workspace, WorkspaceResponse } from '@tether/protocol';
import { type Dispatch, type SetStateAction, useEffect, useRef, useState } from 'react';
import { useApiMutation, useApiQuery } from '../lib/queries';
import {
  mergeRestored,
  type Tab,
  type TabLayouts,
  tabsFromStored,
  toStoredWorkspace,
} from './workspace-layout';

/** Changes to the tabs are stored this long after the last one (a drag, a rename, a burst of opens). */
const SAVE_AFTER_MS = 400;

/**
 * The workspace follows the user (issue #17): after sign-in the tabs stored on the broker reopen,
 * in order, with the same active tab, each terminal reattached; from then on every change to the
 * tabs is stored (`PUT /api/workspace`). Nothing is stored before the stored layout has been
 * read, so a slow or failed read never overwrites it with an empty one.
 */
export function useWorkspaceSync(props: {
  tabs: readonly Tab[];
  activeKey: string | null;
  layouts: TabLayouts;
  /** The user's terminals (null: not loaded yet): restoring needs to know which still exist. */
  terminals: readonly TerminalSummary[] | null;
  setTabs: Dispatch<SetStateAction<Tab[]>>;
  setActiveKey: Dispatch<SetStateAction<string | null>>;
  setLayouts: Dispatch<SetStateAction<TabLayouts>>;
}): { restored: boolean } {
  const { tabs, activeKey, layouts, terminals, setTabs, setActiveKey, setLayouts } = props;
  const stored = useApiQuery<WorkspaceResponse>('workspace');
  const [restored, setRestored] = useState(false);
  const lastSaved = useRef<string | null>(null);
  const save = useApiMutation((api, w: Workspace) =>
    api.request<WorkspaceResponse>('PUT', 'workspace', { body: w }),
  );

  useEffect(() => {
    if (restored || !stored.data || terminals === null) return;
    const back = tabsFromStored(stored.data.workspace, terminals);
    lastSaved.current = JSON.stringify(stored.data.workspace);
    setTabs((current) => mergeRestored(back.tabs, current));
    setLayouts((current) => ({
      splits: { ...back.layouts.splits, ...current.splits },
      focused: { ...back.layouts.focused, ...current.focused },
      broadcast: { ...back.layouts.broadcast, ...current.broadcast },
    }));
    // A tab the user opened while this loaded stays in front.
    setActiveKey((current) => current ?? back.activeKey);
    setRestored(true);
  }, [restored, stored.data, terminals, setTabs, setActiveKey, setLayouts]);

  const { mutate } = save;
  useEffect(() => {
    if (!restored) return;
    const workspace = toStoredWorkspace(tabs, activeKey, layouts);
    const json = JSON.stringify(workspace);
    if (json === lastSaved.current) return;
    const timer = setTimeout(() => {
      lastSaved.current = json;
      // A failed save is tried again with the next change (the layout is a convenience).
      mutate(workspace, { onError: () => (lastSaved.current = null) });
    }, SAVE_AFTER_MS);
    return () => clearTimeout(timer);
  }, [restored, tabs, activeKey, layouts, mutate]);

  return { restored };
}
