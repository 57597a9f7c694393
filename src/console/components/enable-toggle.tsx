import { ErrorNote } from "./error-note.js";

/** The Disable/Enable button of a key or an endpoint, with the gateway's refusal under it. */
export function EnableToggle(props: { enabled: boolean; busy: boolean; error: unknown; onToggle: () => void }) {
  return (
    <>
      <button type="button" className="button" disabled={props.busy} onClick={props.onToggle}>
        {props.enabled ? "Disable" : "Enable"}
      </button>
      <ErrorNote error={props.error} />
    </>
  );
}
