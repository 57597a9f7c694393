/** Above every page while the gateway answers 503: the admin is still signed in and need not do anything. */
export function OutageBanner({ message }: { message: string | undefined }) {
  if (!message) return null;
  return (
    <div className="outage-banner" role="alert">
      <p>{message}</p>
      <p className="muted">
        You are still signed in. The console tries again every few seconds and carries on by itself.
      </p>
    </div>
  );
}
