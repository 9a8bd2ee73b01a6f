/** A JSON viewer: objects and arrays fold, big ones start folded and show their children a
 * page at a time, so a large output costs nothing until it is opened. */
import { useState } from "react";

const PAGE = 50;

function isBlobRef(value: unknown): value is { $blob: string; size: number } {
  return Boolean(value && typeof value === "object" && "$blob" in (value as object));
}

function Scalar({ value }: { value: unknown }) {
  if (value === null) return <span className="text-slate-600">null</span>;
  if (typeof value === "string") return <span className="break-all text-emerald-800">{JSON.stringify(value)}</span>;
  if (typeof value === "number") return <span className="text-blue-800">{value}</span>;
  if (typeof value === "boolean") return <span className="text-purple-800">{String(value)}</span>;
  return <span>{String(value)}</span>;
}

function Branch({ name, value, depth }: { name: string | null; value: unknown; depth: number }) {
  const entries = Array.isArray(value) ? value.map((item, index) => [String(index), item] as const) : Object.entries(value as object);
  const [open, setOpen] = useState(depth < 2 && entries.length <= 20);
  const [shown, setShown] = useState(PAGE);
  const brackets = Array.isArray(value) ? ["[", "]"] : ["{", "}"];
  return (
    <div>
      <button
        type="button"
        aria-expanded={open}
        onClick={() => setOpen(!open)}
        className="rounded px-0.5 text-left hover:bg-slate-100"
      >
        <span className="inline-block w-3 text-slate-600" aria-hidden>
          {open ? "▾" : "▸"}
        </span>
        {name !== null ? <span className="text-slate-800">{name}: </span> : null}
        <span className="text-slate-600">
          {brackets[0]}
          {open ? "" : ` ${entries.length} ${Array.isArray(value) ? "items" : "keys"} ${brackets[1]}`}
        </span>
      </button>
      {open ? (
        <div className="ml-4 border-l border-slate-200 pl-2">
          {entries.slice(0, shown).map(([key, item]) => (
            <Node key={key} name={Array.isArray(value) ? key : JSON.stringify(key).slice(1, -1)} value={item} depth={depth + 1} />
          ))}
          {entries.length > shown ? (
            <button type="button" className="text-indigo-700 underline" onClick={() => setShown(shown + PAGE * 4)}>
              show {Math.min(PAGE * 4, entries.length - shown)} more of {entries.length - shown}
            </button>
          ) : null}
          <div className="text-slate-600">{brackets[1]}</div>
        </div>
      ) : null}
    </div>
  );
}

function Node({ name, value, depth }: { name: string | null; value: unknown; depth: number }) {
  if (isBlobRef(value)) {
    return (
      <div>
        {name !== null ? <span className="text-slate-800">{name}: </span> : null}
        <span className="rounded bg-amber-50 px-1 text-amber-900">stored as a blob ({Math.round(value.size / 1024)} KB)</span>
      </div>
    );
  }
  if (value !== null && typeof value === "object") return <Branch name={name} value={value} depth={depth} />;
  return (
    <div>
      {name !== null ? <span className="text-slate-800">{name}: </span> : null}
      <Scalar value={value} />
    </div>
  );
}

export function JsonView({ value, label }: { value: unknown; label: string }) {
  return (
    <div className="overflow-x-auto rounded-md bg-slate-50 p-2 font-mono text-xs leading-5" aria-label={label} role="group">
      {value === undefined ? <span className="text-slate-600">nothing</span> : <Node name={null} value={value} depth={0} />}
    </div>
  );
}
