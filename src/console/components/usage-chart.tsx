import { Bar, BarChart, CartesianGrid, Legend, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import type { VerifyCodeWord } from "../../shared/contract/words.js";
import { OUTCOME_LABELS } from "../format.js";

/** Loaded with the key page only: recharts is most of that chunk. */

export interface UsagePoint {
  label: string;
  [code: string]: number | string;
}

export const OUTCOME_COLOURS: Record<VerifyCodeWord, string> = {
  valid: "#2f9e44",
  rate_limited: "#e8a100",
  usage_exceeded: "#d9480f",
  revoked: "#862e9c",
  expired: "#868e96",
  disabled: "#495057",
  ip_not_allowed: "#c92a2a",
  insufficient_permission: "#e03131",
  domain_mismatch: "#f03e3e",
  missing_scopes: "#ff6b6b",
  malformed: "#adb5bd",
  not_found: "#ced4da",
};

export default function UsageChart({ points, codes }: { points: UsagePoint[]; codes: VerifyCodeWord[] }) {
  return (
    <div className="chart" aria-hidden="true">
      <ResponsiveContainer width="100%" height={240}>
        <BarChart data={points} margin={{ top: 8, right: 8, bottom: 0, left: -16 }}>
          <CartesianGrid strokeDasharray="3 3" vertical={false} stroke="#e9ecef" />
          <XAxis dataKey="label" tick={{ fontSize: 11 }} interval="preserveStartEnd" minTickGap={16} />
          <YAxis allowDecimals={false} tick={{ fontSize: 11 }} />
          <Tooltip isAnimationActive={false} />
          <Legend wrapperStyle={{ fontSize: 12 }} />
          {codes.map((code) => (
            <Bar
              key={code}
              dataKey={code}
              name={OUTCOME_LABELS[code]}
              stackId="outcomes"
              fill={OUTCOME_COLOURS[code]}
              isAnimationActive={false}
            />
          ))}
        </BarChart>
      </ResponsiveContainer>
    </div>
  );
}
