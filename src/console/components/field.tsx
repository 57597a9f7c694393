import type { ReactNode } from "react";
import { FieldError } from "./field-error.js";

/** A label above its control, with the gateway's message for that field under it. */
export function Field(props: {
  label: string;
  htmlFor: string;
  error?: string;
  hint?: ReactNode;
  children: ReactNode;
}) {
  return (
    <div className={`field${props.error ? " has-error" : ""}`}>
      <label htmlFor={props.htmlFor}>{props.label}</label>
      {props.children}
      {props.hint ? <p className="hint">{props.hint}</p> : null}
      <FieldError message={props.error} id={`${props.htmlFor}-error`} />
    </div>
  );
}
