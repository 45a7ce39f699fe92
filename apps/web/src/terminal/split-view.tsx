import { type KeyboardEvent, type PointerEvent, type ReactNode, useRef } from 'react';
import { type Box, layoutBoxes, type SplitTree } from './workspace-layout';

const pct = (n: number) => `${n}%`;

/**
 * A tab's panes, placed by its split tree: each pane an absolutely placed box (so a new split
 * never remounts a terminal), with a handle on each split that drags, or moves with the arrow
 * keys, to resize it.
 */
export function SplitView(props: {
  tree: SplitTree;
  /** The pane with the keyboard (marked when there are several). */
  focused?: string;
  renderPane: (key: string) => ReactNode;
  onRatio: (path: string, ratio: number) => void;
}) {
  const ref = useRef<HTMLDivElement>(null);
  const { panes, splits } = layoutBoxes(props.tree);
  return (
    <div className="split-view" ref={ref}>
      {panes.map(({ key, box }) => (
        <div
          key={key}
          className="split-pane"
          data-pane-key={key}
          data-focused={splits.length > 0 && key === props.focused ? '' : undefined}
          style={{ left: pct(box.x), top: pct(box.y), width: pct(box.w), height: pct(box.h) }}
        >
          {props.renderPane(key)}
        </div>
      ))}
      {splits.map((s) => (
        <Splitter
          key={s.path}
          box={s.box}
          direction={s.direction}
          ratio={s.ratio}
          container={ref}
          onRatio={(r) => props.onRatio(s.path, r)}
        />
      ))}
    </div>
  );
}

function Splitter(props: {
  box: Box;
  direction: 'row' | 'column';
  ratio: number;
  container: React.RefObject<HTMLDivElement | null>;
  onRatio: (ratio: number) => void;
}) {
  const { box, direction, ratio } = props;
  const row = direction === 'row';
  const style = row
    ? { left: pct(box.x + box.w * ratio), top: pct(box.y), height: pct(box.h) }
    : { top: pct(box.y + box.h * ratio), left: pct(box.x), width: pct(box.w) };

  const fromPointer = (e: PointerEvent) => {
    const rect = props.container.current?.getBoundingClientRect();
    if (!rect) return;
    const at = row
      ? ((e.clientX - rect.left) / rect.width) * 100
      : ((e.clientY - rect.top) / rect.height) * 100;
    props.onRatio(row ? (at - box.x) / box.w : (at - box.y) / box.h);
  };
  const onKey = (e: KeyboardEvent) => {
    const less = row ? 'ArrowLeft' : 'ArrowUp';
    const more = row ? 'ArrowRight' : 'ArrowDown';
    if (e.key !== less && e.key !== more) return;
    e.preventDefault();
    props.onRatio(ratio + (e.key === more ? 0.05 : -0.05));
  };

  return (
    // biome-ignore lint/a11y/useSemanticElements: a movable separator is role=separator with focus (WAI-ARIA window splitter); <hr> cannot take focus or be dragged
    <div
      className={`splitter splitter-${direction}`}
      style={style}
      role="separator"
      aria-orientation={row ? 'vertical' : 'horizontal'}
      aria-valuenow={Math.round(ratio * 100)}
      aria-valuemin={10}
      aria-valuemax={90}
      aria-label="Resize the split"
      tabIndex={0}
      onKeyDown={onKey}
      onPointerDown={(e) => e.currentTarget.setPointerCapture(e.pointerId)}
      onPointerMove={(e) => {
        if (e.currentTarget.hasPointerCapture(e.pointerId)) fromPointer(e);
      }}
    />
  );
}
