import { type ReactNode, useEffect, useId, useRef } from 'react';
import { createPortal } from 'react-dom';
import './modal.css';

/**
 * A native modal `<dialog>` (role=dialog, focus trapped, Escape handled by the browser), labelled
 * by its title. Rendered into <body> so it shows even when opened from a hidden terminal tab.
 */
export function Modal(props: {
  title: string;
  children: ReactNode;
  onCancel: () => void;
  className?: string;
  tone?: 'default' | 'warning';
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  const { onCancel } = props;

  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (!d.open) {
      if (typeof d.showModal === 'function') d.showModal();
      else d.setAttribute('open', '');
    }
    // showModal() focuses the first focusable element; a dialog may name another
    // (React's autoFocus ran before it).
    d.querySelector<HTMLElement>('[data-autofocus]')?.focus();
    return () => {
      if (d.open && typeof d.close === 'function') d.close();
    };
  }, []);

  return createPortal(
    <dialog
      ref={ref}
      aria-labelledby={titleId}
      className={`modal ${props.tone === 'warning' ? 'modal-warning' : ''} ${props.className ?? ''}`}
      onCancel={(e) => {
        e.preventDefault();
        onCancel();
      }}
    >
      <h2 id={titleId} className="modal-title">
        {props.title}
      </h2>
      {props.children}
    </dialog>,
    document.body,
  );
}
