import { Link } from "../router.js";

/** The way back to the list a page belongs to, above its heading. */
export function Crumbs({ href, label }: { href: string; label: string }) {
  return (
    <p className="crumbs">
      <Link href={href}>{label}</Link> /
    </p>
  );
}
