/** The path and query of a download link: the browser fetches it from this origin, with the session cookie. */
export function downloadPath(url: string): string {
  const u = new URL(url, window.location.origin);
  return `${u.pathname}${u.search}`;
}
