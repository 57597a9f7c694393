/** A list filter: "Any …" or one of a fixed set of words, each shown by its label. */
export function FilterSelect<W extends string>(props: {
  label: string;
  anyLabel: string;
  /** As the URL has it: a word not among the choices shows as the first option, as a <select> does. */
  value: string | undefined;
  choices: readonly W[];
  labelOf: (choice: W) => string;
  onChange: (value: W | "") => void;
  className?: string;
}) {
  return (
    <label className={props.className}>
      <span>{props.label}</span>
      <select value={props.value ?? ""} onChange={(e) => props.onChange(e.target.value as W | "")}>
        <option value="">{props.anyLabel}</option>
        {props.choices.map((choice) => (
          <option key={choice} value={choice}>
            {props.labelOf(choice)}
          </option>
        ))}
      </select>
    </label>
  );
}
