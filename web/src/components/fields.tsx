/** Form fields and a bar for the admin pages (loaded with them, not with the first page):
 * each field shows the API's message for it under itself, tied by aria-describedby. */
import { useId, type ReactNode } from "react";
import { FieldNote } from "./ui";

/** A labelled `<select>` that shows the API's message for its field under it. */
export function SelectField({
  label,
  value,
  onChange,
  options,
  hint,
  error,
}: {
  label: string;
  value: string;
  onChange: (value: string) => void;
  options: { value: string; label: string }[];
  hint?: ReactNode;
  error?: string | null;
}) {
  const id = useId();
  return (
    <div className="mb-3">
      <label htmlFor={id} className="mb-1 block text-sm font-medium text-slate-800">
        {label}
      </label>
      <select
        id={id}
        value={value}
        aria-invalid={error ? true : undefined}
        aria-describedby={error ? `${id}-error` : hint ? `${id}-hint` : undefined}
        onChange={(event) => onChange(event.target.value)}
        className={`w-full rounded-md border bg-white px-2 py-1.5 text-sm ${error ? "border-red-500" : "border-slate-300"}`}
      >
        {options.map((option) => (
          <option key={option.value} value={option.value}>
            {option.label}
          </option>
        ))}
      </select>
      <FieldNote id={id} error={error} hint={hint} />
    </div>
  );
}

/** A labelled `<textarea>` that shows the API's message for its field under it. */
export function TextAreaField({
  label,
  value,
  onChange,
  rows = 4,
  hint,
  error,
  mono,
  required,
}: {
  label: string;
  value: string;
  onChange: (value: string) => void;
  rows?: number;
  hint?: ReactNode;
  error?: string | null;
  mono?: boolean;
  required?: boolean;
}) {
  const id = useId();
  return (
    <div className="mb-3">
      <label htmlFor={id} className="mb-1 block text-sm font-medium text-slate-800">
        {label}
        {required ? <span className="text-red-700"> *</span> : null}
      </label>
      <textarea
        id={id}
        rows={rows}
        value={value}
        required={required}
        aria-invalid={error ? true : undefined}
        aria-describedby={error ? `${id}-error` : hint ? `${id}-hint` : undefined}
        onChange={(event) => onChange(event.target.value)}
        className={`w-full rounded-md border px-2.5 py-1.5 text-sm ${mono ? "font-mono text-xs" : ""} ${error ? "border-red-500" : "border-slate-300"}`}
      />
      <FieldNote id={id} error={error} hint={hint} />
    </div>
  );
}

/** A horizontal bar for a share of a whole (spend per row, a budget's use); decorative, the
 * figure it draws is always written beside it. */
export function Bar({ fraction, tone = "indigo" }: { fraction: number; tone?: "indigo" | "amber" | "red" }) {
  const width = `${Math.max(0, Math.min(1, fraction)) * 100}%`;
  const colour = { indigo: "bg-indigo-500", amber: "bg-amber-500", red: "bg-red-600" }[tone];
  return (
    <div className="h-2 w-full min-w-16 rounded-full bg-slate-100" aria-hidden>
      <div className={`h-2 rounded-full ${colour}`} style={{ width }} />
    </div>
  );
}
