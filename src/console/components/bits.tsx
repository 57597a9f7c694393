import type { ReactNode } from "react";
import { errorMessage } from "../trpc.js";

export function ErrorNote({ error }: { error: unknown }) {
  if (!error) return null;
  return (
    <p className="error" role="alert">
      {errorMessage(error)}
    </p>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <p className="muted" aria-live="polite">
      Loading {what}…
    </p>
  );
}

/** A label above its control, with the gateway's message for that field under it. */
export function Field(props: {
  label: string;
  htmlFor: string;
  error?: string;
  hint?: ReactNode;
  children: ReactNode;
}) {
  const errorId = `${props.htmlFor}-error`;
  return (
    <div className={`field${props.error ? " has-error" : ""}`}>
      <label htmlFor={props.htmlFor}>{props.label}</label>
      {props.children}
      {props.hint ? <p className="hint">{props.hint}</p> : null}
      {props.error ? (
        <p className="field-error" id={errorId} role="alert">
          {props.error}
        </p>
      ) : null}
    </div>
  );
}

/** Keyset paging: back through the tokens seen, forward with the answer's next token. */
export function Pager(props: {
  hasPrevious: boolean;
  next: string | null;
  onPrevious: () => void;
  onNext: () => void;
}) {
  if (!props.hasPrevious && !props.next) return null;
  return (
    <nav className="pager" aria-label="Pages">
      <button type="button" className="button" disabled={!props.hasPrevious} onClick={props.onPrevious}>
        Previous
      </button>
      <button type="button" className="button" disabled={!props.next} onClick={props.onNext}>
        Next
      </button>
    </nav>
  );
}
