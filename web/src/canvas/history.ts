/** Undo and redo over snapshots of the editor's state. Edits to one field in quick
 * succession (typing) coalesce into one step. */
import { useCallback, useRef, useState } from "react";

const LIMIT = 200;
const COALESCE_MS = 1000;

export function useHistory<T>(current: () => T, restore: (snapshot: T) => void) {
  const past = useRef<T[]>([]);
  const future = useRef<T[]>([]);
  const last = useRef<{ key: string; at: number } | null>(null);
  const [, setVersion] = useState(0);
  const bump = () => setVersion((n) => n + 1);

  /** Call before a change; `key` names a continuous edit that should coalesce. */
  const commit = useCallback(
    (key?: string) => {
      const now = Date.now();
      if (key && last.current && last.current.key === key && now - last.current.at < COALESCE_MS) {
        last.current.at = now;
        return;
      }
      last.current = key ? { key, at: now } : null;
      past.current.push(current());
      if (past.current.length > LIMIT) past.current.shift();
      future.current = [];
      bump();
    },
    [current],
  );

  const undo = useCallback(() => {
    const snapshot = past.current.pop();
    if (snapshot === undefined) return;
    future.current.push(current());
    last.current = null;
    restore(snapshot);
    bump();
  }, [current, restore]);

  const redo = useCallback(() => {
    const snapshot = future.current.pop();
    if (snapshot === undefined) return;
    past.current.push(current());
    last.current = null;
    restore(snapshot);
    bump();
  }, [current, restore]);

  return { commit, undo, redo, canUndo: past.current.length > 0, canRedo: future.current.length > 0 };
}
