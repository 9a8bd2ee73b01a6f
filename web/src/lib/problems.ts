/** Validation problems (RFC 9457 `errors: [{loc, msg, node?, field?, position?}]`) → the
 * place of each mistake: a node (badge), a field of its form, an edge, or the graph. */
import type { Problem, ProblemItem } from "../api/client";

export interface Issue {
  field: string;
  message: string;
  position?: number | null;
}

export interface IssueMap {
  byNode: Map<string, Issue[]>;
  byEdge: Map<number, Issue[]>;
  graph: Issue[];
}

export const emptyIssues = (): IssueMap => ({ byNode: new Map(), byEdge: new Map(), graph: [] });

const EDGE = /^edges\[(\d+)\]/;

function fieldFromLoc(loc: (string | number)[]): string {
  const parts = loc[0] === "body" ? loc.slice(1) : loc;
  let path = "";
  for (const part of parts) path += typeof part === "number" ? `[${part}]` : path ? `.${part}` : String(part);
  return path;
}

function push<K>(map: Map<K, Issue[]>, key: K, issue: Issue): void {
  map.set(key, [...(map.get(key) ?? []), issue]);
}

export function issuesOf(problem: Problem | null | undefined): IssueMap {
  const issues = emptyIssues();
  if (!problem) return issues;
  const items: ProblemItem[] = problem.errors?.length ? problem.errors : [{ loc: [], msg: problem.detail }];
  for (const item of items) {
    const field = item.field ?? fieldFromLoc(item.loc ?? []);
    const issue: Issue = { field, message: item.msg, position: item.position ?? null };
    const edge = EDGE.exec(field);
    if (edge) push(issues.byEdge, Number(edge[1]), issue);
    if (item.node) push(issues.byNode, item.node, issue);
    else if (!edge) issues.graph.push(issue);
  }
  return issues;
}

/** The issues a form field shows: those naming it or something inside it (`config.json.text`
 * shows under `config.json`; `config.messages[0].content` under `config.messages`). */
export function issuesForField(issues: Issue[] | undefined, path: string): Issue[] {
  if (!issues) return [];
  return issues.filter((issue) => {
    if (issue.field === path) return true;
    const rest = issue.field.slice(path.length);
    return issue.field.startsWith(path) && (rest.startsWith(".") || rest.startsWith("["));
  });
}

/** Issues of a node that no form field claims (shown at the top of its panel). */
export function unclaimed(issues: Issue[] | undefined, fieldPaths: string[]): Issue[] {
  return (issues ?? []).filter((issue) => !fieldPaths.some((path) => issuesForField([issue], path).length > 0));
}

export function describe(issue: Issue): string {
  const at = issue.position != null ? ` (at character ${issue.position})` : "";
  return `${issue.message}${at}`;
}
