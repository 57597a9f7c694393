import { PERMISSION_WORDS, type PermissionWord, REFILL_INTERVAL_WORDS } from "../../shared/contract/words.js";
import { PERMISSION_LABELS } from "../format.js";
import type { FieldIssue, Inputs, Key } from "../trpc.js";
import { Field } from "./field.js";
import { FieldError } from "./field-error.js";

/**
 * The fields of a key as a form edits them (create and edit share them),
 * and the gateway's input built from them. Values the browser cannot parse
 * go to the gateway as typed, so that its message appears at the field.
 */

export interface RateLimitRow {
  name: string;
  limit: string;
  durationSeconds: string;
}

export interface KeyFormValues {
  name: string;
  description: string;
  permission: PermissionWord;
  domainId: string;
  subject: string;
  scopes: string;
  /** Create: days until it expires ("" = never). Edit: a local date and time ("" = never). */
  expiry: string;
  allowedCidrs: string;
  ratelimits: RateLimitRow[];
  /** Credits left; "" = unlimited. */
  remaining: string;
  refillInterval: "" | "daily" | "monthly";
  refillAmount: string;
  refillDay: string;
  claims: string;
}

export const EMPTY_KEY_FORM: KeyFormValues = {
  name: "",
  description: "",
  permission: "full_access",
  domainId: "",
  subject: "",
  scopes: "",
  expiry: "",
  allowedCidrs: "",
  ratelimits: [],
  remaining: "",
  refillInterval: "",
  refillAmount: "",
  refillDay: "",
  claims: "",
};

export function formOfKey(key: Key): KeyFormValues {
  return {
    name: key.name,
    description: key.description ?? "",
    permission: key.permission,
    domainId: key.domainId ?? "",
    subject: key.subject ?? "",
    scopes: key.scopes.join(" "),
    expiry: key.expireTime ? localDateTime(key.expireTime) : "",
    allowedCidrs: key.allowedCidrs.join("\n"),
    ratelimits: key.ratelimits.map((r) => ({
      name: r.name,
      limit: String(r.limit),
      durationSeconds: String(r.durationSeconds),
    })),
    remaining: key.remaining === null ? "" : String(key.remaining),
    refillInterval: key.refill?.interval ?? "",
    refillAmount: key.refill ? String(key.refill.amount) : "",
    refillDay: key.refill?.dayOfMonth ? String(key.refill.dayOfMonth) : "",
    claims: key.claims ? JSON.stringify(key.claims, null, 2) : "",
  };
}

/** An ISO time as the value of <input type="datetime-local"> in the browser's zone. */
function localDateTime(iso: string): string {
  const d = new Date(iso);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

const list = (text: string) =>
  text
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter((s) => s !== "");

/** A number when the text is one, else the text itself (the gateway then names the field). */
function numberOr(text: string): number {
  const n = Number(text.trim());
  return (text.trim() !== "" && Number.isFinite(n) ? n : text) as number;
}

export class ClaimsSyntaxError extends Error {}

function claimsOf(text: string): Record<string, unknown> | undefined {
  if (text.trim() === "") return undefined;
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new ClaimsSyntaxError('must be a JSON object, e.g. {"email": "ops@example.com"}');
  }
}

type CreateInput = Inputs["keys"]["create"];
type UpdateInput = Inputs["keys"]["update"];

export function createInput(v: KeyFormValues): CreateInput {
  const input: CreateInput = { name: v.name, permission: v.permission };
  if (v.description.trim()) input.description = v.description;
  if (v.permission === "sending_access" && v.domainId.trim()) input.domainId = v.domainId.trim();
  if (v.subject.trim()) input.subject = v.subject.trim();
  if (list(v.scopes).length) input.scopes = list(v.scopes);
  if (v.expiry) input.expiresInSeconds = Math.round(numberOr(v.expiry) * 86_400);
  if (list(v.allowedCidrs).length) input.allowedCidrs = list(v.allowedCidrs);
  if (v.ratelimits.length) input.ratelimits = v.ratelimits.map(rateLimitOf);
  if (v.remaining.trim()) input.remaining = numberOr(v.remaining);
  if (v.refillInterval) input.refill = refillOf(v);
  const claims = claimsOf(v.claims);
  if (claims) input.claims = claims as CreateInput["claims"];
  return input;
}

/** Only what changed, with the etag read, so that an edit never overwrites another's change unseen. */
export function updateInput(v: KeyFormValues, key: Key): UpdateInput {
  const before = formOfKey(key);
  const input: UpdateInput = { id: key.id, etag: key.etag };
  if (v.name !== before.name) input.name = v.name;
  if (v.description !== before.description) input.description = v.description.trim() ? v.description : null;
  if (v.permission !== before.permission) input.permission = v.permission;
  const domain = v.permission === "sending_access" ? v.domainId.trim() : "";
  if (domain !== (key.domainId ?? "")) input.domainId = domain || null;
  if (v.scopes !== before.scopes) input.scopes = list(v.scopes);
  if (v.expiry !== before.expiry) input.expireTime = v.expiry ? new Date(v.expiry).toISOString() : null;
  if (v.allowedCidrs !== before.allowedCidrs) input.allowedCidrs = list(v.allowedCidrs);
  if (JSON.stringify(v.ratelimits) !== JSON.stringify(before.ratelimits))
    input.ratelimits = v.ratelimits.map(rateLimitOf);
  if (v.remaining !== before.remaining) input.remaining = v.remaining.trim() ? numberOr(v.remaining) : null;
  if (
    v.refillInterval !== before.refillInterval ||
    v.refillAmount !== before.refillAmount ||
    v.refillDay !== before.refillDay
  ) {
    input.refill = v.refillInterval ? refillOf(v) : null;
  }
  if (v.claims !== before.claims) input.claims = (claimsOf(v.claims) ?? null) as UpdateInput["claims"];
  return input;
}

function rateLimitOf(r: RateLimitRow) {
  return { name: r.name.trim(), limit: numberOr(r.limit), durationSeconds: numberOr(r.durationSeconds) };
}

function refillOf(v: KeyFormValues) {
  return {
    interval: v.refillInterval as "daily" | "monthly",
    amount: numberOr(v.refillAmount),
    ...(v.refillInterval === "monthly" && v.refillDay.trim() ? { dayOfMonth: numberOr(v.refillDay) } : {}),
  };
}

/** The gateway's field path ("scopes[1]", "ratelimits[0].limit", "refill.amount") -> the form's field and message. */
export function issuesByField(issues: FieldIssue[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const issue of issues) {
    const head = /^[A-Za-z]+/.exec(issue.field)?.[0] ?? issue.field;
    const field = head === "expiresInSeconds" || head === "expireTime" ? "expiry" : head;
    const rest = issue.field.slice(head.length);
    const where = itemOf(rest);
    out[field] ??= where ? `${where}: ${issue.message}` : issue.message;
  }
  return out;
}

/** "[1]" -> "item 2", "[0].limit" -> "item 1, limit", ".amount" -> "amount". */
function itemOf(rest: string): string {
  const index = /^\[(\d+)\]/.exec(rest);
  const after = rest.replace(/^\[\d+\]/, "").replace(/^\./, "");
  const parts = [index ? `item ${Number(index[1]) + 1}` : "", after].filter(Boolean);
  return parts.join(", ");
}

export const CREATE_EXPIRY_CHOICES: Array<[string, string]> = [
  ["", "Never"],
  ["1", "1 day"],
  ["7", "7 days"],
  ["30", "30 days"],
  ["90", "90 days"],
  ["365", "1 year"],
];

/**
 * The fields. `mode` create shows the subject as editable and expiry as a
 * choice of lifetimes; edit shows expiry as a date (the subject cannot change).
 */
export function KeyFields(props: {
  mode: "create" | "edit";
  values: KeyFormValues;
  errors: Record<string, string>;
  onChange: (values: KeyFormValues) => void;
}) {
  const { values: v, errors, onChange } = props;
  const set = <K extends keyof KeyFormValues>(name: K, value: KeyFormValues[K]) => onChange({ ...v, [name]: value });
  const setLimit = (i: number, patch: Partial<RateLimitRow>) =>
    set(
      "ratelimits",
      v.ratelimits.map((r, j) => (j === i ? { ...r, ...patch } : r)),
    );
  const id = (name: string) => `${props.mode}-${name}`;
  return (
    <>
      <Field label="Name" htmlFor={id("name")} error={errors.name}>
        <input id={id("name")} value={v.name} maxLength={200} required onChange={(e) => set("name", e.target.value)} />
      </Field>
      <Field label="Description" htmlFor={id("description")} error={errors.description}>
        <textarea
          id={id("description")}
          rows={2}
          value={v.description}
          onChange={(e) => set("description", e.target.value)}
        />
      </Field>
      <Field label="Permission" htmlFor={id("permission")} error={errors.permission}>
        <select
          id={id("permission")}
          value={v.permission}
          onChange={(e) => set("permission", e.target.value as PermissionWord)}
        >
          {PERMISSION_WORDS.map((p) => (
            <option key={p} value={p}>
              {PERMISSION_LABELS[p]}
            </option>
          ))}
        </select>
      </Field>
      {v.permission === "sending_access" ? (
        <Field
          label="Domain"
          htmlFor={id("domain")}
          error={errors.domainId}
          hint="Optional: the key may then only send for this domain."
        >
          <input id={id("domain")} value={v.domainId} onChange={(e) => set("domainId", e.target.value)} />
        </Field>
      ) : null}
      {props.mode === "create" ? (
        <Field
          label="Subject"
          htmlFor={id("subject")}
          error={errors.subject}
          hint="The owner, e.g. user_123 or org_456."
        >
          <input id={id("subject")} value={v.subject} onChange={(e) => set("subject", e.target.value)} />
        </Field>
      ) : null}
      <Field
        label="Scopes"
        htmlFor={id("scopes")}
        error={errors.scopes}
        hint="Separated by spaces, e.g. read:users write:users."
      >
        <input id={id("scopes")} value={v.scopes} onChange={(e) => set("scopes", e.target.value)} />
      </Field>
      <Field label="Expiry" htmlFor={id("expiry")} error={errors.expiry}>
        {props.mode === "create" ? (
          <select id={id("expiry")} value={v.expiry} onChange={(e) => set("expiry", e.target.value)}>
            {CREATE_EXPIRY_CHOICES.map(([value, label]) => (
              <option key={value} value={value}>
                {label}
              </option>
            ))}
          </select>
        ) : (
          <input
            id={id("expiry")}
            type="datetime-local"
            value={v.expiry}
            onChange={(e) => set("expiry", e.target.value)}
          />
        )}
      </Field>
      <Field
        label="Allowed CIDRs"
        htmlFor={id("cidrs")}
        error={errors.allowedCidrs}
        hint="One per line, e.g. 10.0.0.0/8. Empty: any address."
      >
        <textarea
          id={id("cidrs")}
          rows={2}
          value={v.allowedCidrs}
          onChange={(e) => set("allowedCidrs", e.target.value)}
        />
      </Field>
      <fieldset className={`field${errors.ratelimits ? " has-error" : ""}`}>
        <legend>Rate limits</legend>
        {v.ratelimits.map((r, i) => (
          // biome-ignore lint/suspicious/noArrayIndexKey: rows have no identity but their place
          <div className="limit-row" key={i}>
            <label>
              <span>Limit name</span>
              <input value={r.name} onChange={(e) => setLimit(i, { name: e.target.value })} />
            </label>
            <label>
              <span>Limit</span>
              <input inputMode="numeric" value={r.limit} onChange={(e) => setLimit(i, { limit: e.target.value })} />
            </label>
            <label>
              <span>Per seconds</span>
              <input
                inputMode="numeric"
                value={r.durationSeconds}
                onChange={(e) => setLimit(i, { durationSeconds: e.target.value })}
              />
            </label>
            <button
              type="button"
              className="button ghost"
              aria-label={`Remove rate limit ${i + 1}`}
              onClick={() =>
                set(
                  "ratelimits",
                  v.ratelimits.filter((_, j) => j !== i),
                )
              }
            >
              Remove
            </button>
          </div>
        ))}
        <button
          type="button"
          className="button"
          onClick={() => set("ratelimits", [...v.ratelimits, { name: "api", limit: "100", durationSeconds: "60" }])}
        >
          Add rate limit
        </button>
        <FieldError message={errors.ratelimits} />
      </fieldset>
      <Field label="Credits" htmlFor={id("remaining")} error={errors.remaining} hint="Uses left. Empty: unlimited.">
        <input
          id={id("remaining")}
          inputMode="numeric"
          value={v.remaining}
          onChange={(e) => set("remaining", e.target.value)}
        />
      </Field>
      <div className="field-row">
        <Field label="Refill" htmlFor={id("refill")} error={errors.refill}>
          <select
            id={id("refill")}
            value={v.refillInterval}
            onChange={(e) => set("refillInterval", e.target.value as KeyFormValues["refillInterval"])}
          >
            <option value="">No refill</option>
            {REFILL_INTERVAL_WORDS.map((w) => (
              <option key={w} value={w}>
                {w === "daily" ? "Daily" : "Monthly"}
              </option>
            ))}
          </select>
        </Field>
        {v.refillInterval ? (
          <Field label="Refill amount" htmlFor={id("refill-amount")}>
            <input
              id={id("refill-amount")}
              inputMode="numeric"
              value={v.refillAmount}
              onChange={(e) => set("refillAmount", e.target.value)}
            />
          </Field>
        ) : null}
        {v.refillInterval === "monthly" ? (
          <Field label="Day of month" htmlFor={id("refill-day")}>
            <input
              id={id("refill-day")}
              inputMode="numeric"
              value={v.refillDay}
              onChange={(e) => set("refillDay", e.target.value)}
            />
          </Field>
        ) : null}
      </div>
      <Field
        label="Claims (JSON)"
        htmlFor={id("claims")}
        error={errors.claims}
        hint="Returned to services on verification."
      >
        <textarea
          id={id("claims")}
          rows={3}
          className="mono"
          value={v.claims}
          onChange={(e) => set("claims", e.target.value)}
        />
      </Field>
    </>
  );
}
