import { type KeyboardEvent, useEffect, useRef, useState } from 'react';
import { displayNames, type Tab, tabName } from './workspace-layout';

const DRAG_TYPE = 'application/x-tether-tab';

/**
 * The open terminals' tabs (WAI-ARIA tabs): arrows, Home and End move between them; Shift+arrow
 * or dragging moves one; F2 or a double-click renames one (empty: back to its own name); Delete
 * or × closes one. Names several tabs share are numbered.
 */
export function TabStrip(props: {
  tabs: readonly Tab[];
  activeKey: string | null;
  onSelect: (key: string) => void;
  onClose: (key: string) => void;
  onMove: (from: number, to: number) => void;
  onRename: (key: string, title: string | null) => void;
}) {
  const { tabs } = props;
  const refs = useRef(new Map<string, HTMLButtonElement>());
  const [renaming, setRenaming] = useState<string | null>(null);
  const [dropAt, setDropAt] = useState<number | null>(null);
  const names = displayNames(tabs);
  // After a keyboard move the moved tab keeps the focus.
  const [focusKey, setFocusKey] = useState<string | null>(null);
  useEffect(() => {
    if (focusKey) refs.current.get(focusKey)?.focus();
    setFocusKey(null);
  }, [focusKey]);

  const onKey = (e: KeyboardEvent<HTMLButtonElement>, index: number) => {
    const t = tabs[index];
    if (!t) return;
    if (e.key === 'F2') {
      e.preventDefault();
      setRenaming(t.key);
      return;
    }
    if (e.key === 'Delete') {
      e.preventDefault();
      props.onClose(t.key);
      return;
    }
    if (e.shiftKey && (e.key === 'ArrowLeft' || e.key === 'ArrowRight')) {
      e.preventDefault();
      const to = index + (e.key === 'ArrowLeft' ? -1 : 1);
      if (to < 0 || to >= tabs.length) return;
      props.onMove(index, to);
      setFocusKey(t.key);
      return;
    }
    let next = -1;
    if (e.key === 'ArrowRight') next = (index + 1) % tabs.length;
    else if (e.key === 'ArrowLeft') next = (index - 1 + tabs.length) % tabs.length;
    else if (e.key === 'Home') next = 0;
    else if (e.key === 'End') next = tabs.length - 1;
    if (next < 0) return;
    e.preventDefault();
    const n = tabs[next];
    if (!n) return;
    props.onSelect(n.key);
    refs.current.get(n.key)?.focus();
  };

  return (
    <div className="tabs" role="tablist" aria-label="Open terminals">
      {tabs.map((t, i) => (
        <div
          key={t.key}
          className={`tab ${t.key === props.activeKey ? 'tab-active' : ''} ${dropAt === i ? 'tab-drop' : ''}`}
          role="presentation"
        >
          {renaming === t.key ? (
            <RenameInput
              initial={tabName(t)}
              onDone={(value) => {
                setRenaming(null);
                // Empty, or the name it would have anyway: back to following its own name.
                const own = tabName({ ...t, title: null });
                if (value !== null)
                  props.onRename(t.key, value.trim() === '' || value.trim() === own ? null : value.trim());
                setFocusKey(t.key);
              }}
            />
          ) : (
            <button
              ref={(el) => {
                if (el) refs.current.set(t.key, el);
                else refs.current.delete(t.key);
              }}
              type="button"
              role="tab"
              id={`${t.key}-tab`}
              aria-selected={t.key === props.activeKey}
              aria-controls={`${t.key}-panel`}
              tabIndex={t.key === props.activeKey ? 0 : -1}
              className="tab-button"
              data-status={t.status}
              title={`${names[i]} (double-click or F2 to rename)`}
              onClick={(e) => {
                props.onSelect(t.key);
                // A pointer's click hands the keyboard to the terminal; keys stay in the strip.
                if (e.detail > 0) e.currentTarget.blur();
              }}
              onDoubleClick={() => setRenaming(t.key)}
              onKeyDown={(e) => onKey(e, i)}
              draggable
              onDragStart={(e) => {
                e.dataTransfer.setData(DRAG_TYPE, String(i));
                e.dataTransfer.effectAllowed = 'move';
              }}
              onDragOver={(e) => {
                if (!e.dataTransfer.types.includes(DRAG_TYPE)) return;
                e.preventDefault();
                e.dataTransfer.dropEffect = 'move';
                setDropAt(i);
              }}
              onDragLeave={() => setDropAt(null)}
              onDrop={(e) => {
                e.preventDefault();
                setDropAt(null);
                const from = Number(e.dataTransfer.getData(DRAG_TYPE));
                if (Number.isInteger(from)) props.onMove(from, i);
              }}
            >
              <span className={`status-dot status-${t.status}`} aria-hidden="true" />
              {names[i]}
            </button>
          )}
          <button
            type="button"
            className="tab-close"
            aria-label={`Close ${names[i]}`}
            title="Close tab (the terminal keeps running)"
            onClick={() => props.onClose(t.key)}
          >
            ×
          </button>
        </div>
      ))}
    </div>
  );
}

/** The tab's name being edited: Enter or leaving keeps it, Escape gives up (`onDone(null)`). */
function RenameInput(props: { initial: string; onDone: (value: string | null) => void }) {
  const [value, setValue] = useState(props.initial);
  const done = useRef(false);
  const finish = (v: string | null) => {
    if (done.current) return;
    done.current = true;
    props.onDone(v);
  };
  return (
    <input
      className="tab-rename"
      aria-label="Tab name"
      value={value}
      maxLength={100}
      spellCheck={false}
      autoFocus
      onFocus={(e) => e.currentTarget.select()}
      onChange={(e) => setValue(e.target.value)}
      onBlur={() => finish(value)}
      onKeyDown={(e) => {
        if (e.key === 'Enter') {
          e.preventDefault();
          finish(value);
        } else if (e.key === 'Escape') {
          e.preventDefault();
          finish(null);
        }
      }}
    />
  );
}
