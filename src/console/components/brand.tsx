/** The Keyward mark: a key, drawn inline (no font or image to load). */
export function BrandMark() {
  return (
    <svg className="brand-mark" width="20" height="20" viewBox="0 0 24 24" aria-hidden="true" focusable="false">
      <circle cx="8" cy="12" r="4.5" fill="none" stroke="currentColor" strokeWidth="2.2" />
      <path
        d="M12.5 12H22M18 12v3.5M21 12v2.5"
        fill="none"
        stroke="currentColor"
        strokeWidth="2.2"
        strokeLinecap="round"
      />
    </svg>
  );
}
