/** Completion inside templates (`{{ … }}`) and bare expressions: `inputs.`, `vars.`,
 * `nodes.<id>.output`, `secrets.` (where a node may read them), and the sandbox's filters
 * after `|` and tests after `is`. */

export interface Vocabulary {
  roots: string[];
  filters: string[];
  tests: string[];
  globals: string[];
}

export interface CompletionScope {
  inputs: string[];
  vars: string[];
  /** Nodes upstream of the one being edited. */
  nodes: string[];
  secrets: string[];
  secretsAllowed: boolean;
  inForeach: boolean;
}

export interface Completion {
  label: string;
  insert: string;
  detail: string;
}

export interface CompletionResult {
  from: number;
  to: number;
  items: Completion[];
}

const NODE_FIELDS: [string, string][] = [
  ["output", "what the node returned"],
  ["status", "succeeded, failed, skipped…"],
  ["error", "the error, when it failed"],
];

/** Is the caret inside `{{ … }}` or `{% … %}` of a template? */
function insideTag(text: string, caret: number): number | null {
  const before = text.slice(0, caret);
  const open = Math.max(before.lastIndexOf("{{"), before.lastIndexOf("{%"));
  if (open < 0) return null;
  const close = Math.max(before.lastIndexOf("}}"), before.lastIndexOf("%}"));
  return close > open ? null : open + 2;
}

function matching(prefix: string, entries: [string, string][], suffix = ""): Completion[] {
  return entries
    .filter(([name]) => name.startsWith(prefix) && name !== prefix)
    .map(([name, detail]) => ({ label: name, insert: name + suffix, detail }));
}

export function complete(
  text: string,
  caret: number,
  mode: "template" | "expression",
  scope: CompletionScope,
  vocabulary: Vocabulary,
): CompletionResult | null {
  const start = mode === "template" ? insideTag(text, caret) : 0;
  if (start === null) return null;
  const segment = text.slice(start, caret);
  const filter = /\|\s*([A-Za-z_]*)$/.exec(segment);
  if (filter) {
    const word = filter[1] ?? "";
    const items = matching(word, vocabulary.filters.map((name) => [name, "filter"]));
    return items.length ? { from: caret - word.length, to: caret, items } : null;
  }
  const test = /\bis\s+(?:not\s+)?([A-Za-z_]*)$/.exec(segment);
  if (test) {
    const word = test[1] ?? "";
    const items = matching(word, vocabulary.tests.filter((name) => /^[a-z]/.test(name)).map((name) => [name, "test"]));
    return items.length ? { from: caret - word.length, to: caret, items } : null;
  }
  const path = /([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]*)*)$/.exec(segment);
  const written = path?.[1] ?? "";
  if (!written && !/(^|[\s(,\[+\-*/=<>!~])$/.test(segment)) return null;
  const parts = written.split(".");
  const word = parts[parts.length - 1] ?? "";
  const from = caret - word.length;
  let items: Completion[] = [];
  if (parts.length === 1) {
    const roots: [string, string][] = [
      ["inputs", "the run's inputs"],
      ["vars", "the graph's constants"],
      ["nodes", "upstream nodes' state"],
    ];
    if (scope.secretsAllowed) roots.push(["secrets", "credentials, resolved in the activity"]);
    if (scope.inForeach) roots.push(["item", "the current item"], ["index", "its position"]);
    items = [
      ...matching(word, roots.filter(([name]) => vocabulary.roots.includes(name)), "."),
      ...matching(word, vocabulary.globals.map((name) => [name, "function"]), "("),
    ].map((item) => (item.label === "item" || item.label === "index" ? { ...item, insert: item.label } : item));
  } else if (parts.length === 2) {
    const names: Record<string, [string, string][]> = {
      inputs: scope.inputs.map((name) => [name, "input"]),
      vars: scope.vars.map((name) => [name, "var"]),
      nodes: scope.nodes.map((name) => [name, "upstream node"]),
      secrets: scope.secretsAllowed ? scope.secrets.map((name) => [name, "secret"]) : [],
    };
    items = matching(word, names[parts[0] ?? ""] ?? [], parts[0] === "nodes" ? "." : "");
  } else if (parts.length === 3 && parts[0] === "nodes" && scope.nodes.includes(parts[1] ?? "")) {
    items = matching(word, NODE_FIELDS);
  }
  return items.length ? { from, to: caret, items } : null;
}

/** `text` with the completion applied, and where the caret goes. */
export function apply(text: string, result: CompletionResult, item: Completion): { text: string; caret: number } {
  const next = text.slice(0, result.from) + item.insert + text.slice(result.to);
  return { text: next, caret: result.from + item.insert.length };
}
