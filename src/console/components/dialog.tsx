import { type ReactNode, useEffect, useRef } from "react";

/**
 * A modal dialog on the browser's own <dialog>: focus moves into it, Escape
 * closes it, the page behind is inert.
 */
export function Dialog(props: { title: string; open: boolean; onClose: () => void; children: ReactNode }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (props.open && !dialog.open) dialog.showModal();
    if (!props.open && dialog.open) dialog.close();
  }, [props.open]);
  return (
    <dialog ref={ref} className="dialog" aria-label={props.title} onClose={props.onClose}>
      {props.open ? (
        <>
          <header className="dialog-head">
            <h2>{props.title}</h2>
            <button type="button" className="button ghost" aria-label="Close" onClick={props.onClose}>
              ×
            </button>
          </header>
          {props.children}
        </>
      ) : null}
    </dialog>
  );
}
