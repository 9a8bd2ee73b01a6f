/** Validation problems (RFC 9457 `errors: [{loc, msg, node?, field?, position?}]`) → the
 * place of each mistake: a node (badge), a field of its form, an edge, or the graph. */
import { ApiError, type Problem, type ProblemItem } from "../api/client";

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

/** The issues of a failed save in a form that is not a graph (a route, a budget, the tenant):
 * each names its field as a path (`deployments[0].api_key_secret`); a problem without
 * `errors` (a 409, a 403) is one issue with the empty path. */
export function formIssues(error: unknown): Issue[] {
  return error instanceof ApiError ? issuesOf(error.problem).graph : [];
}

/** What a form field shows under itself: the messages of the issues naming it (or inside it). */
export function messageAt(issues: Issue[], path: string): string | null {
  const found = issuesForField(issues, path);
  return found.length ? found.map(describe).join("; ") : null;
}

/** The messages no rendered field claims (shown at the top of the form). */
export function unclaimedMessages(issues: Issue[], fieldPaths: string[]): string[] {
  return unclaimed(issues, fieldPaths).map((issue) => (issue.field ? `${issue.field}: ${describe(issue)}` : describe(issue)));
}
