import type { NodeKinds } from "../api/hooks";
import { lookOf } from "./kinds";

export const KIND_MIME = "application/x-auterity-kind";

export function Palette({ kinds, onAdd }: { kinds: NodeKinds; onAdd: (kind: string) => void }) {
  return (
    <aside aria-label="Node palette" className="flex w-44 shrink-0 flex-col gap-1 overflow-y-auto border-r border-slate-200 bg-white p-2">
      <h2 className="px-1 pb-1 text-xs font-semibold uppercase tracking-wide text-slate-600">Add a node</h2>
      {Object.entries(kinds).map(([kind, schema]) => {
        const look = lookOf(kind);
        const description = typeof schema.description === "string" ? schema.description.split(/\.\s|\n/)[0] : look.title;
        return (
          <button
            key={kind}
            type="button"
            draggable
            data-kind={kind}
            title={`${description}. Drag onto the canvas, or press Enter to add.`}
            onDragStart={(event) => {
              event.dataTransfer.setData(KIND_MIME, kind);
              event.dataTransfer.effectAllowed = "move";
            }}
            onClick={() => onAdd(kind)}
            className="flex cursor-grab items-center gap-2 rounded-md border border-slate-200 px-2 py-1.5 text-left text-sm hover:border-indigo-300 hover:bg-indigo-50"
          >
            <span className={`w-10 shrink-0 rounded px-1 py-0.5 text-center text-[10px] font-bold text-white ${look.color}`}>{look.tag}</span>
            <span className="text-slate-800">{kind}</span>
          </button>
        );
      })}
      <p className="mt-2 px-1 text-[11px] leading-4 text-slate-600">
        Drag to add · connect handles · Del deletes · Ctrl+C/V copy · Ctrl+Z/Y undo · Ctrl+S save
      </p>
    </aside>
  );
}
