/** A text field for templates (`{{ … }}`) and bare expressions, with completion of
 * `inputs.`, `vars.`, `nodes.<id>.output`, `secrets.`, filters and tests. */
import { createContext, useContext, useId, useLayoutEffect, useRef, useState, type KeyboardEvent } from "react";
import { apply, complete, type CompletionResult, type CompletionScope, type Vocabulary } from "../lib/completion";

export interface ExpressionEnvironment {
  scope: CompletionScope;
  vocabulary: Vocabulary;
}

const EMPTY: ExpressionEnvironment = {
  scope: { inputs: [], vars: [], nodes: [], secrets: [], secretsAllowed: false, inForeach: false },
  vocabulary: { roots: ["inputs", "vars", "nodes"], filters: [], tests: [], globals: [] },
};

export const ExpressionContext = createContext<ExpressionEnvironment>(EMPTY);

export function ExpressionInput({
  id,
  value,
  onChange,
  mode,
  multiline,
  invalid,
  describedBy,
  placeholder,
  readOnly,
}: {
  id: string;
  value: string;
  onChange: (value: string) => void;
  mode: "template" | "expression";
  multiline?: boolean;
  invalid?: boolean;
  describedBy?: string;
  placeholder?: string;
  readOnly?: boolean;
}) {
  const environment = useContext(ExpressionContext);
  const [result, setResult] = useState<CompletionResult | null>(null);
  const [active, setActive] = useState(0);
  const field = useRef<HTMLTextAreaElement & HTMLInputElement>(null);
  const listId = useId();

  const refresh = (text: string, caret: number) => {
    const next = complete(text, caret, mode, environment.scope, environment.vocabulary);
    setResult(next);
    setActive(0);
  };

  // The caret goes after a chosen completion in the same commit as the new text, before the
  // next key is handled: a fast typist's next character lands there, not at the end.
  const pendingCaret = useRef<number | null>(null);
  const placeCaret = (text: string, caret: number) => {
    field.current?.setSelectionRange(caret, caret);
    field.current?.focus();
    refresh(text, caret);
  };
  useLayoutEffect(() => {
    const caret = pendingCaret.current;
    if (caret === null) return;
    pendingCaret.current = null;
    placeCaret(value, caret);
  }, [value]);

  const choose = (index: number) => {
    const item = result?.items[index];
    if (!result || !item) return;
    const next = apply(value, result, item);
    setResult(null);
    if (next.text === value) {
      placeCaret(value, next.caret);
      return;
    }
    pendingCaret.current = next.caret;
    onChange(next.text);
  };

  const onKeyDown = (event: KeyboardEvent) => {
    if (!result) {
      if (event.key === " " && event.ctrlKey) {
        event.preventDefault();
        refresh(value, field.current?.selectionStart ?? value.length);
      }
      return;
    }
    if (event.key === "ArrowDown") {
      event.preventDefault();
      setActive((active + 1) % result.items.length);
    } else if (event.key === "ArrowUp") {
      event.preventDefault();
      setActive((active - 1 + result.items.length) % result.items.length);
    } else if (event.key === "Enter" || event.key === "Tab") {
      event.preventDefault();
      choose(active);
    } else if (event.key === "Escape") {
      event.stopPropagation();
      setResult(null);
    }
  };

  const common = {
    id,
    ref: field,
    value,
    readOnly,
    placeholder: placeholder ?? (mode === "template" ? "text with {{ inputs.name }}" : "inputs.count > 3"),
    role: "combobox",
    "aria-expanded": result !== null,
    "aria-controls": listId,
    "aria-autocomplete": "list" as const,
    "aria-activedescendant": result ? `${listId}-${active}` : undefined,
    "aria-invalid": invalid || undefined,
    "aria-describedby": describedBy,
    spellCheck: false,
    onKeyDown,
    onBlur: () => setTimeout(() => setResult(null), 150),
    onChange: (event: { target: { value: string; selectionStart: number | null } }) => {
      onChange(event.target.value);
      refresh(event.target.value, event.target.selectionStart ?? event.target.value.length);
    },
    className: `w-full rounded-md border px-2 py-1.5 font-mono text-xs ${invalid ? "border-red-500 bg-red-50" : "border-slate-300"}`,
  };

  return (
    <div className="relative">
      {multiline ? <textarea rows={3} {...common} /> : <input type="text" {...common} />}
      <ul
        id={listId}
        role="listbox"
        aria-label="Completions"
        className={`absolute z-30 mt-1 max-h-56 w-full overflow-auto rounded-md border border-slate-200 bg-white py-1 text-xs shadow-lg ${result ? "" : "hidden"}`}
      >
        {result?.items.map((item, index) => (
          <li
            key={item.label}
            id={`${listId}-${index}`}
            role="option"
            aria-selected={index === active}
            onMouseDown={(event) => {
              event.preventDefault();
              choose(index);
            }}
            className={`flex cursor-pointer justify-between gap-3 px-2 py-1 font-mono ${index === active ? "bg-indigo-50 text-indigo-900" : "text-slate-800"}`}
          >
            <span>{item.label}</span>
            <span className="font-sans text-slate-600">{item.detail}</span>
          </li>
        ))}
      </ul>
    </div>
  );
}
