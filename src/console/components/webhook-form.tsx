import { WEBHOOK_EVENT_TYPES } from "../../shared/contract/events.js";
import type { Inputs, Webhook } from "../trpc.js";
import { Field } from "./field.js";
import { FieldError } from "./field-error.js";

/**
 * A webhook endpoint's fields as the add and edit forms show them, and the
 * gateway's input built from them. The URL goes to the gateway as typed, so
 * that its message appears at the field.
 */

export interface WebhookFormValues {
  url: string;
  description: string;
  /** None: every event type. */
  eventTypes: string[];
  enabled: boolean;
}

export const EMPTY_WEBHOOK_FORM: WebhookFormValues = { url: "", description: "", eventTypes: [], enabled: true };

export function formOfWebhook(w: Webhook): WebhookFormValues {
  return { url: w.url, description: w.description ?? "", eventTypes: [...w.eventTypes], enabled: w.enabled };
}

type CreateInput = Inputs["webhooks"]["create"];
type UpdateInput = Inputs["webhooks"]["update"];
type EventType = NonNullable<CreateInput["eventTypes"]>[number];

/** In the order the gateway lists them, whatever order they were ticked in. */
const ordered = (types: string[]) => WEBHOOK_EVENT_TYPES.filter((t) => types.includes(t)) as EventType[];

export function createWebhookInput(v: WebhookFormValues): CreateInput {
  const input: CreateInput = { url: v.url };
  if (v.description.trim()) input.description = v.description;
  if (v.eventTypes.length) input.eventTypes = ordered(v.eventTypes);
  return input;
}

/** Only what changed; undefined when nothing did. */
export function updateWebhookInput(v: WebhookFormValues, w: Webhook): UpdateInput | undefined {
  const before = formOfWebhook(w);
  const input: UpdateInput = { id: w.id };
  if (v.url !== before.url) input.url = v.url;
  if (v.description !== before.description) input.description = v.description.trim() ? v.description : null;
  if (ordered(v.eventTypes).join(" ") !== ordered(before.eventTypes).join(" "))
    input.eventTypes = ordered(v.eventTypes);
  if (v.enabled !== before.enabled) input.enabled = v.enabled;
  return Object.keys(input).length > 1 ? input : undefined;
}

/** Which events an endpoint gets, in words. */
export function eventsText(eventTypes: string[]): string {
  return eventTypes.length ? eventTypes.join(", ") : "All events";
}

export function WebhookFields(props: {
  mode: "create" | "edit";
  values: WebhookFormValues;
  errors: Record<string, string>;
  onChange: (values: WebhookFormValues) => void;
}) {
  const { values: v, errors, onChange } = props;
  const set = <K extends keyof WebhookFormValues>(name: K, value: WebhookFormValues[K]) =>
    onChange({ ...v, [name]: value });
  const id = (name: string) => `webhook-${props.mode}-${name}`;
  const toggle = (type: string, on: boolean) =>
    set("eventTypes", on ? [...v.eventTypes.filter((t) => t !== type), type] : v.eventTypes.filter((t) => t !== type));
  return (
    <>
      <Field
        label="URL"
        htmlFor={id("url")}
        error={errors.url}
        hint="Where Keyward POSTs the events, e.g. https://hooks.example.com/keyward."
      >
        <input
          id={id("url")}
          type="url"
          inputMode="url"
          autoComplete="off"
          spellCheck={false}
          value={v.url}
          required
          aria-invalid={errors.url ? true : undefined}
          aria-describedby={errors.url ? `${id("url")}-error` : undefined}
          onChange={(e) => set("url", e.target.value)}
        />
      </Field>
      <Field label="Description" htmlFor={id("description")} error={errors.description}>
        <textarea
          id={id("description")}
          rows={2}
          value={v.description}
          aria-invalid={errors.description ? true : undefined}
          onChange={(e) => set("description", e.target.value)}
        />
      </Field>
      <fieldset className={`field${errors.eventTypes ? " has-error" : ""}`} aria-describedby={id("events-hint")}>
        <legend>Events</legend>
        <p className="hint" id={id("events-hint")}>
          {v.eventTypes.length === 0
            ? "None checked: the endpoint gets every event, including types added later."
            : `${v.eventTypes.length} checked: the endpoint gets only these. Uncheck all to get every event.`}
        </p>
        <div className="checks">
          {WEBHOOK_EVENT_TYPES.map((type) => (
            <label key={type} className="check">
              <input
                type="checkbox"
                checked={v.eventTypes.includes(type)}
                onChange={(e) => toggle(type, e.target.checked)}
              />
              <code>{type}</code>
            </label>
          ))}
        </div>
        <FieldError message={errors.eventTypes} />
      </fieldset>
      {props.mode === "edit" ? (
        <label className="check check-enabled">
          <input type="checkbox" checked={v.enabled} onChange={(e) => set("enabled", e.target.checked)} />
          <span>Enabled: deliver events to this endpoint</span>
        </label>
      ) : null}
    </>
  );
}
