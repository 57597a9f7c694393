import { useState } from "react";

/**
 * A new key's token (or a webhook endpoint's signing secret), shown this
 * once: as text to select, with a Copy button. It lives only in the state of
 * the component that shows it, and is gone when that closes.
 */
export function TokenOnce({
  token,
  onDone,
  label = "New API key",
  warning = "Copy this API key now. You won't be able to see it again: Keyward keeps only its hash.",
  fieldId = "new-token",
}: {
  token: string;
  onDone: () => void;
  /** The text field's accessible name. */
  label?: string;
  warning?: string;
  fieldId?: string;
}) {
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(token);
      setCopied(true);
    } catch {
      // No clipboard (an http origin other than localhost): the text is there to select.
      const field = document.getElementById(fieldId) as HTMLInputElement | null;
      field?.select();
    }
  };
  return (
    <div className="token-once">
      <p className="warning" role="alert">
        {warning}
      </p>
      <div className="token-row">
        <input
          id={fieldId}
          className="token-text"
          aria-label={label}
          readOnly
          value={token}
          onFocus={(e) => e.currentTarget.select()}
        />
        <button type="button" className="button" onClick={copy}>
          Copy
        </button>
      </div>
      <p className="muted" aria-live="polite">
        {copied ? "Copied to the clipboard." : "\u00a0"}
      </p>
      <div className="actions">
        <button type="button" className="button primary" onClick={onDone}>
          Done
        </button>
      </div>
    </div>
  );
}
