import { absoluteTime, relativeTime } from "../format.js";

/** "3 minutes ago", with the exact time on hover; `never` (and `neverTitle` on hover) when there is no time. */
export function RelativeTime(props: { time: string | null; never?: string; neverTitle?: string }) {
  return (
    <time dateTime={props.time ?? undefined} title={absoluteTime(props.time, props.neverTitle)}>
      {relativeTime(props.time, props.never)}
    </time>
  );
}
