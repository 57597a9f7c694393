/** The foot of a form in a dialog: Cancel closes it, the submit button is off while the request runs. */
export function DialogActions(props: {
  submit: string;
  onCancel: () => void;
  busy: boolean;
  danger?: boolean;
  /** Off for another reason than a running request, e.g. a confirmation not typed yet. */
  disabled?: boolean;
}) {
  return (
    <div className="actions">
      <button type="button" className="button ghost" onClick={props.onCancel}>
        Cancel
      </button>
      <button
        type="submit"
        className={`button ${props.danger ? "danger" : "primary"}`}
        disabled={props.disabled || props.busy}
      >
        {props.submit}
      </button>
    </div>
  );
}
