/** The graph editor: canvas, palette, side panels, validation while editing, undo/redo,
 * copy/paste, auto-layout, save and run. One store: `nodes`, `edges` and `meta` here; the
 * node components only draw what they are given. */
import { memo, useCallback, useEffect, useMemo, useRef, useState, type DragEvent, type KeyboardEvent, type ReactNode } from "react";
import {
  Background,
  Controls,
  MiniMap,
  ReactFlow,
  ReactFlowProvider,
  addEdge,
  applyEdgeChanges,
  applyNodeChanges,
  useReactFlow,
  type Connection,
  type EdgeChange,
  type NodeChange,
} from "@xyflow/react";
import { useQueryClient } from "@tanstack/react-query";
import { ApiError, api } from "../api/client";
import { useNodeKinds, useSecretNames, useVocabulary } from "../api/hooks";
import type { GraphRead } from "../api/types";
import {
  DEFAULT_HANDLE,
  fromFlow,
  newNodeId,
  starterConfig,
  toFlow,
  toFlowEdge,
  upstreamOf,
  type GraphDefinition,
  type GraphMeta,
  type GraphNode,
  type StepEdge,
  type StepNode,
} from "../lib/graph";
import { emptyIssues, issuesOf, type IssueMap } from "../lib/problems";
import { layout } from "../lib/layout";
import { ExpressionContext, type ExpressionEnvironment } from "../components/ExpressionInput";
import { Button } from "../components/ui";
import { GraphPanel } from "./GraphPanel";
import { NodePanel } from "./NodePanel";
import { KIND_MIME, Palette } from "./Palette";
import { nodeTypes } from "./StepNode";
import { useHistory } from "./history";

interface Snapshot {
  meta: GraphMeta;
  nodes: StepNode[];
  edges: StepEdge[];
}

const MemoNodePanel = memo(NodePanel);
const MemoPalette = memo(Palette);
const NO_KINDS = {};

let clipboard: { nodes: StepNode[]; edges: StepEdge[] } | null = null;

/** Near `wanted`, a place where a new node covers no other (added by click or keyboard). */
function freeSpot(nodes: StepNode[], wanted: { x: number; y: number }): { x: number; y: number } {
  const taken = (x: number, y: number) => nodes.some((node) => Math.abs(node.position.x - x) < 210 && Math.abs(node.position.y - y) < 90);
  for (let ring = 0; ring < 12; ring += 1) {
    for (const [dx, dy] of [[0, ring], [0, -ring], [ring, 0], [ring, ring], [ring, -ring]] as const) {
      const x = wanted.x + dx * 230;
      const y = wanted.y + dy * 100;
      if (!taken(x, y)) return { x, y };
    }
  }
  return wanted;
}

function metaOf(definition: GraphDefinition): GraphMeta {
  const { nodes: _n, edges: _e, ...meta } = definition;
  return meta;
}

/** What validation and saving see: positions are layout, so moving a node re-validates nothing. */
function contentKey(definition: GraphDefinition): string {
  return JSON.stringify({ ...definition, nodes: definition.nodes.map(({ position: _p, ...node }) => node) });
}

type Validation = { state: "idle" | "checking" | "valid" | "invalid" | "error"; issues: IssueMap; message?: string };

export interface FlowEditorProps {
  graph: GraphRead;
  definition: GraphDefinition;
  toolbar?: ReactNode;
  onRun: (definition: GraphDefinition) => void;
  side?: { label: string; content: ReactNode }[];
}

export function FlowEditor(props: FlowEditorProps) {
  return (
    <ReactFlowProvider>
      <Editor {...props} />
    </ReactFlowProvider>
  );
}

function Editor({ graph, definition, toolbar, onRun, side = [] }: FlowEditorProps) {
  const kinds = useNodeKinds();
  const vocabulary = useVocabulary();
  const secrets = useSecretNames();
  const flow = useReactFlow<StepNode, StepEdge>();
  const queries = useQueryClient();
  const initial = useMemo(() => {
    const flowGraph = toFlow(definition);
    // A graph saved without positions (from the API or a template) is laid out once.
    const unplaced = definition.nodes.some((node) => !node.position);
    return unplaced ? { ...flowGraph, nodes: layout(flowGraph.nodes, flowGraph.edges) } : flowGraph;
  }, [definition]);
  const [meta, setMeta] = useState<GraphMeta>(() => metaOf(definition));
  const [nodes, setNodes] = useState<StepNode[]>(initial.nodes);
  const [edges, setEdges] = useState<StepEdge[]>(initial.edges);
  const [tab, setTab] = useState<string>("node");
  const [validation, setValidation] = useState<Validation>({ state: "idle", issues: emptyIssues() });
  const [saving, setSaving] = useState(false);
  const [notice, setNotice] = useState<{ tone: "ok" | "error"; text: string } | null>(null);
  // Compared in the builder's own normal form (the API adds defaults such as on_error).
  const [savedKey, setSavedKey] = useState(() => contentKey(fromFlow(metaOf(definition), initial.nodes, initial.edges)));
  const [savedLayout, setSavedLayout] = useState(() => JSON.stringify(initial.nodes.map((node) => [node.id, Math.round(node.position.x), Math.round(node.position.y)])));
  const wrapper = useRef<HTMLDivElement>(null);
  const lastPicked = useRef<string | null>(null);

  const state = useRef<Snapshot>({ meta, nodes, edges });
  state.current = { meta, nodes, edges };
  const current = useCallback(() => state.current, []);
  const restore = useCallback((snapshot: Snapshot) => {
    setMeta(snapshot.meta);
    setNodes(snapshot.nodes);
    setEdges(snapshot.edges);
  }, []);
  const history = useHistory(current, restore);

  // While a node is dragged, the graph (what is validated and saved) waits for the drop:
  // a drag frame then costs only the canvas.
  const [dragging, setDragging] = useState(false);
  const settled = useRef(nodes);
  if (!dragging) settled.current = nodes;
  const settledNodes = settled.current;
  const graphDefinition = useMemo(() => fromFlow(meta, settledNodes, edges), [meta, settledNodes, edges]);
  const key = useMemo(() => contentKey(graphDefinition), [graphDefinition]);
  const currentLayout = useMemo(() => JSON.stringify(graphDefinition.nodes.map((node) => [node.id, node.position?.x, node.position?.y])), [graphDefinition]);
  const dirty = key !== savedKey || currentLayout !== savedLayout;

  // Leaving with unsaved changes asks first (closing the tab or reloading).
  useEffect(() => {
    if (!dirty) return;
    const warn = (event: BeforeUnloadEvent) => event.preventDefault();
    addEventListener("beforeunload", warn);
    return () => removeEventListener("beforeunload", warn);
  }, [dirty]);

  // Validation while editing: debounced, against the API (the only judge of a graph).
  useEffect(() => {
    const timer = setTimeout(async () => {
      setValidation((previous) => ({ ...previous, state: "checking" }));
      try {
        await api.post("/v1/graphs/validate", JSON.parse(key));
        setValidation({ state: "valid", issues: emptyIssues() });
      } catch (error) {
        if (error instanceof ApiError && error.status === 422) setValidation({ state: "invalid", issues: issuesOf(error.problem) });
        else setValidation({ state: "error", issues: emptyIssues(), message: error instanceof Error ? error.message : String(error) });
      }
    }, 500);
    return () => clearTimeout(timer);
  }, [key]);

  const selected = nodes.filter((node) => node.selected);
  const single = selected.length === 1 ? selected[0] : undefined;

  const shownNodes = useMemo(() => {
    const byNode = validation.issues.byNode;
    const usingDefault = new Set(edges.filter((edge) => edge.sourceHandle === DEFAULT_HANDLE).map((edge) => edge.source));
    return nodes.map((node) => {
      const issues = byNode.get(node.id);
      const usesDefault = usingDefault.has(node.id) && ["condition", "switch", "approval"].includes(node.data.node.type);
      if (!issues && !usesDefault) return node;
      return { ...node, data: { ...node.data, issues: issues?.map((issue) => `${issue.field}: ${issue.message}`), usesDefault } };
    });
  }, [nodes, edges, validation.issues]);

  const shownEdges = useMemo(() => {
    if (validation.issues.byEdge.size === 0) return edges;
    return edges.map((edge, index) =>
      validation.issues.byEdge.has(index) ? { ...edge, style: { stroke: "#dc2626", strokeDasharray: "4 3" }, animated: true } : edge,
    );
  }, [edges, validation.issues]);

  const onNodesChange = useCallback((changes: NodeChange<StepNode>[]) => setNodes((all) => applyNodeChanges(changes, all)), []);
  const onEdgesChange = useCallback((changes: EdgeChange<StepEdge>[]) => setEdges((all) => applyEdgeChanges(changes, all)), []);

  const onConnect = useCallback(
    (connection: Connection) => {
      if (connection.source === connection.target) return;
      const when = connection.sourceHandle && connection.sourceHandle !== DEFAULT_HANDLE ? connection.sourceHandle : null;
      const edge = toFlowEdge({ from: connection.source, to: connection.target, when });
      if (state.current.edges.some((existing) => existing.id === edge.id)) return;
      history.commit();
      setEdges((all) => addEdge(edge, all));
    },
    [history],
  );

  const addNode = useCallback(
    (kind: string, position?: { x: number; y: number }) => {
      const id = newNodeId(kind, state.current.nodes.map((node) => node.id));
      const bounds = wrapper.current?.getBoundingClientRect();
      const at =
        position ??
        freeSpot(
          state.current.nodes,
          flow.screenToFlowPosition({ x: (bounds?.left ?? 0) + (bounds?.width ?? 600) / 2 - 100, y: (bounds?.top ?? 0) + (bounds?.height ?? 400) / 2 - 30 }),
        );
      const node: GraphNode = { id, type: kind, config: starterConfig(kind) };
      history.commit();
      setNodes((all) => [
        ...all.map((other) => (other.selected ? { ...other, selected: false } : other)),
        { id, type: "step", position: at, data: { node }, selected: true },
      ]);
      setTab("node");
    },
    [flow, history],
  );

  const onDrop = useCallback(
    (event: DragEvent) => {
      const kind = event.dataTransfer.getData(KIND_MIME);
      if (!kind) return;
      event.preventDefault();
      addNode(kind, flow.screenToFlowPosition({ x: event.clientX - 100, y: event.clientY - 30 }));
    },
    [addNode, flow],
  );

  const updateNode = useCallback(
    (next: GraphNode, editKey: string) => {
      history.commit(editKey);
      setNodes((all) => all.map((node) => (node.id === next.id ? { ...node, data: { ...node.data, node: next } } : node)));
    },
    [history],
  );

  const renameNode = useCallback(
    (from: string, to: string) => {
      history.commit();
      setNodes((all) => all.map((node) => (node.id === from ? { ...node, id: to, data: { ...node.data, node: { ...node.data.node, id: to } } } : node)));
      setEdges((all) =>
        all.map((edge) =>
          edge.source === from || edge.target === from
            ? toFlowEdge({ from: edge.source === from ? to : edge.source, to: edge.target === from ? to : edge.target, when: edge.data?.when ?? null })
            : edge,
        ),
      );
    },
    [history],
  );

  const deleteSelected = useCallback(() => {
    const gone = new Set(state.current.nodes.filter((node) => node.selected).map((node) => node.id));
    const edgesGone = state.current.edges.filter((edge) => edge.selected || gone.has(edge.source) || gone.has(edge.target));
    if (gone.size === 0 && edgesGone.length === 0) return;
    history.commit();
    setNodes((all) => all.filter((node) => !gone.has(node.id)));
    setEdges((all) => all.filter((edge) => !edgesGone.includes(edge)));
  }, [history]);

  const copy = useCallback(() => {
    const picked = state.current.nodes.filter((node) => node.selected);
    if (!picked.length) return;
    const ids = new Set(picked.map((node) => node.id));
    clipboard = { nodes: picked, edges: state.current.edges.filter((edge) => ids.has(edge.source) && ids.has(edge.target)) };
    setNotice({ tone: "ok", text: `Copied ${picked.length} node${picked.length > 1 ? "s" : ""}` });
  }, []);

  const paste = useCallback(() => {
    if (!clipboard) return;
    const taken = state.current.nodes.map((node) => node.id);
    const renamed = new Map<string, string>();
    for (const node of clipboard.nodes) {
      const id = newNodeId(node.data.node.type, [...taken, ...renamed.values()]);
      renamed.set(node.id, id);
    }
    const pasted = clipboard.nodes.map((node) => {
      const id = renamed.get(node.id) as string;
      return { ...node, id, selected: true, position: { x: node.position.x + 40, y: node.position.y + 40 }, data: { node: { ...structuredClone(node.data.node), id } } };
    });
    const pastedEdges = clipboard.edges.map((edge) =>
      toFlowEdge({ from: renamed.get(edge.source) as string, to: renamed.get(edge.target) as string, when: edge.data?.when ?? null }),
    );
    history.commit();
    setNodes((all) => [...all.map((node) => ({ ...node, selected: false })), ...pasted]);
    setEdges((all) => [...all, ...pastedEdges]);
    clipboard = { nodes: pasted, edges: pastedEdges };
  }, [history]);

  const autoLayout = useCallback(() => {
    history.commit();
    setNodes((all) => layout(all, state.current.edges));
    requestAnimationFrame(() => void flow.fitView({ padding: 0.15, maxZoom: 1, duration: 200 }));
  }, [flow, history]);

  const save = useCallback(async (): Promise<GraphRead | null> => {
    setSaving(true);
    setNotice(null);
    try {
      const saved = await api.put<GraphRead>(`/v1/graphs/${graph.id}`, graphDefinition);
      setSavedKey(key);
      setSavedLayout(currentLayout);
      setNotice({ tone: "ok", text: saved.created ? `Saved as version ${saved.version}` : `No change: still version ${saved.version}` });
      void queries.invalidateQueries({ queryKey: ["graph", graph.id] });
      void queries.invalidateQueries({ queryKey: ["versions", graph.id] });
      void queries.invalidateQueries({ queryKey: ["graphs"] });
      return saved;
    } catch (error) {
      if (error instanceof ApiError && error.status === 422) {
        const issues = issuesOf(error.problem);
        setValidation({ state: "invalid", issues });
        setNotice({ tone: "error", text: `Not saved: ${error.problem.detail}` });
      } else setNotice({ tone: "error", text: `Not saved: ${error instanceof Error ? error.message : String(error)}` });
      return null;
    } finally {
      setSaving(false);
    }
  }, [graph.id, graphDefinition, key, currentLayout, queries]);

  const run = useCallback(async () => {
    if (dirty && !(await save())) return;
    onRun(graphDefinition);
  }, [dirty, save, onRun, graphDefinition]);

  const onKeyDown = (event: KeyboardEvent) => {
    const target = event.target as HTMLElement;
    if (target.closest("input, textarea, select, [contenteditable]")) {
      if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "s") {
        event.preventDefault();
        void save();
      }
      return;
    }
    const mod = event.ctrlKey || event.metaKey;
    const k = event.key.toLowerCase();
    if (mod && k === "z" && !event.shiftKey) {
      event.preventDefault();
      history.undo();
    } else if (mod && (k === "y" || (k === "z" && event.shiftKey))) {
      event.preventDefault();
      history.redo();
    } else if (mod && k === "c") copy();
    else if (mod && k === "v") {
      event.preventDefault();
      paste();
    } else if (mod && k === "s") {
      event.preventDefault();
      void save();
    } else if (mod && k === "a") {
      event.preventDefault();
      setNodes((all) => all.map((node) => ({ ...node, selected: true })));
    } else if (event.key === "Delete" || event.key === "Backspace") {
      event.preventDefault();
      deleteSelected();
    }
  };

  const singleNode = single?.data.node;
  const environment = useMemo<ExpressionEnvironment>(() => {
    const node = singleNode;
    const kind = node ? kinds.data?.[node.type] : undefined;
    const flags = (kind?.["x-auterity"] ?? {}) as { secrets?: boolean };
    const properties = (meta.inputs?.properties ?? {}) as Record<string, unknown>;
    return {
      scope: {
        inputs: Object.keys(properties),
        vars: Object.keys(meta.vars ?? {}),
        nodes: node ? upstreamOf(node.id, edges) : [],
        secrets: secrets.data ?? [],
        secretsAllowed: Boolean(flags.secrets),
        inForeach: node?.type === "foreach",
      },
      vocabulary: vocabulary.data ?? { roots: ["inputs", "vars", "nodes", "secrets"], filters: [], tests: [], globals: [] },
    };
  }, [singleNode, kinds.data, meta, edges, secrets.data, vocabulary.data]);
  const nodeIds = nodes.map((node) => node.id).join(" ");
  const takenIds = useMemo(() => nodeIds.split(" ").filter((id) => id && id !== singleNode?.id), [nodeIds, singleNode?.id]);
  const onRename = useCallback((to: string) => singleNode && renameNode(singleNode.id, to), [singleNode, renameNode]);
  const onAdd = useCallback((kind: string) => addNode(kind), [addNode]);

  const issueCount = [...validation.issues.byNode.values()].reduce((sum, list) => sum + list.length, 0) + validation.issues.graph.length;
  const edgeOnly = [...validation.issues.byEdge.entries()].filter(([index]) => {
    const edge = edges[index];
    return !edge || !validation.issues.byNode.has(edge.source);
  });

  const tabs = [{ id: "node", label: "Node" }, { id: "graph", label: "Graph" }, ...side.map((panel) => ({ id: panel.label, label: panel.label }))];

  return (
    <div className="flex h-full min-h-0 flex-col" onKeyDown={onKeyDown}>
      <div className="flex flex-wrap items-center gap-2 border-b border-slate-200 bg-white px-3 py-2">
        <h1 className="mr-2 truncate text-base font-semibold" title={meta.name}>
          {meta.name}
        </h1>
        <span className="text-xs text-slate-600">v{graph.version}</span>
        <ValidationBadge validation={validation} count={issueCount + edgeOnly.length} />
        {dirty ? <span className="text-xs font-medium text-amber-800">unsaved changes</span> : null}
        <div className="ml-auto flex flex-wrap items-center gap-1">
          {toolbar}
          <Button small tone="ghost" onClick={history.undo} disabled={!history.canUndo} aria-label="Undo" title="Undo (Ctrl+Z)">
            ↶ Undo
          </Button>
          <Button small tone="ghost" onClick={history.redo} disabled={!history.canRedo} aria-label="Redo" title="Redo (Ctrl+Shift+Z)">
            ↷ Redo
          </Button>
          <Button small tone="ghost" onClick={autoLayout} title="Arrange left to right">
            Auto-layout
          </Button>
          <Button small tone="ghost" onClick={() => void flow.fitView({ padding: 0.15, maxZoom: 1, duration: 200 })}>
            Fit view
          </Button>
          <Button small onClick={() => void save()} disabled={saving} title="Save (Ctrl+S)">
            {saving ? "Saving…" : "Save"}
          </Button>
          <Button small tone="primary" onClick={() => void run()} disabled={saving}>
            ▶ Run
          </Button>
        </div>
      </div>
      {notice ? (
        <div role="status" className={`border-b px-3 py-1.5 text-sm ${notice.tone === "ok" ? "border-green-200 bg-green-50 text-green-900" : "border-red-200 bg-red-50 text-red-900"}`}>
          {notice.text}
          <button type="button" className="ml-3 underline" onClick={() => setNotice(null)}>
            dismiss
          </button>
        </div>
      ) : null}
      <div className="flex min-h-0 flex-1">
        <MemoPalette kinds={kinds.data ?? NO_KINDS} onAdd={onAdd} />
        <div className="relative min-w-0 flex-1" ref={wrapper} onDragOver={(event) => event.preventDefault()} onDrop={onDrop}>
          <ReactFlow<StepNode, StepEdge>
            nodes={shownNodes}
            edges={shownEdges}
            nodeTypes={nodeTypes}
            onNodesChange={onNodesChange}
            onEdgesChange={onEdgesChange}
            onConnect={onConnect}
            onNodeDragStart={() => {
              history.commit();
              setDragging(true);
            }}
            onNodeDragStop={() => setDragging(false)}
            onSelectionChange={({ nodes: picked }) => {
              // A newly picked node opens its panel (not every re-render of the same pick).
              const id = picked.length === 1 ? (picked[0]?.id ?? null) : null;
              if (id !== lastPicked.current && id !== null) setTab("node");
              lastPicked.current = id;
            }}
            deleteKeyCode={null}
            fitView={initial.nodes.length > 0}
            fitViewOptions={{ padding: 0.15, maxZoom: 1 }}
            minZoom={0.1}
            defaultEdgeOptions={{ type: "default" }}
            proOptions={{ hideAttribution: true }}
            aria-label="Graph canvas"
          >
            <Background gap={16} />
            <Controls showInteractive={false} />
            {/* Redrawn on every frame of a drag otherwise; it catches up on the drop. */}
            {dragging ? null : <MiniMap pannable zoomable ariaLabel="Minimap" nodeColor="#a5b4fc" nodeStrokeColor="#4f46e5" />}
          </ReactFlow>
          {nodes.length === 0 ? (
            <div className="pointer-events-none absolute inset-0 flex items-center justify-center">
              <p className="rounded-lg bg-white/90 px-4 py-3 text-sm text-slate-700 shadow">Drag a node from the palette to start.</p>
            </div>
          ) : null}
        </div>
        <aside aria-label="Inspector" className="flex w-[360px] shrink-0 flex-col border-l border-slate-200 bg-white">
          <div role="tablist" aria-label="Panels" className="flex border-b border-slate-200">
            {tabs.map((entry) => (
              <button
                key={entry.id}
                role="tab"
                type="button"
                aria-selected={tab === entry.id}
                onClick={() => setTab(entry.id)}
                className={`flex-1 px-2 py-2 text-sm font-medium ${tab === entry.id ? "border-b-2 border-indigo-600 text-indigo-800" : "text-slate-700"}`}
              >
                {entry.label}
              </button>
            ))}
          </div>
          <div role="tabpanel" className="min-h-0 flex-1 overflow-y-auto p-3">
            <ExpressionContext.Provider value={environment}>
              {tab === "node" ? (
                single && kinds.data ? (
                  <MemoNodePanel
                    key={single.id}
                    node={single.data.node}
                    kinds={kinds.data}
                    issues={validation.issues.byNode.get(single.id)}
                    takenIds={takenIds}
                    onChange={updateNode}
                    onRename={onRename}
                    onDelete={deleteSelected}
                  />
                ) : (
                  <div className="space-y-3 text-sm text-slate-700">
                    <p>{selected.length > 1 ? `${selected.length} nodes selected.` : "Select a node to configure it."}</p>
                    <ProblemList validation={validation} edges={edges} onPick={(id) => setNodes((all) => all.map((node) => ({ ...node, selected: node.id === id })))} />
                  </div>
                )
              ) : tab === "graph" ? (
                <GraphPanel meta={meta} issues={validation.issues.graph} onChange={(next, editKey) => (history.commit(editKey), setMeta(next))} />
              ) : (
                side.find((panel) => panel.label === tab)?.content
              )}
            </ExpressionContext.Provider>
          </div>
        </aside>
      </div>
    </div>
  );
}

function ValidationBadge({ validation, count }: { validation: Validation; count: number }) {
  const text =
    validation.state === "checking" || validation.state === "idle"
      ? "checking…"
      : validation.state === "valid"
        ? "✓ valid"
        : validation.state === "invalid"
          ? `${count} problem${count === 1 ? "" : "s"}`
          : "cannot check";
  const tone = validation.state === "valid" ? "bg-green-100 text-green-900" : validation.state === "invalid" ? "bg-red-100 text-red-900" : "bg-slate-100 text-slate-700";
  return (
    <span role="status" aria-live="polite" data-testid="validation" data-state={validation.state} className={`rounded-full px-2 py-0.5 text-xs font-medium ${tone}`} title={validation.message}>
      {text}
    </span>
  );
}

function ProblemList({ validation, edges, onPick }: { validation: Validation; edges: StepEdge[]; onPick: (node: string) => void }) {
  const rows: { node?: string; text: string }[] = [];
  for (const [node, list] of validation.issues.byNode) for (const issue of list) rows.push({ node, text: `${issue.field}: ${issue.message}` });
  for (const [index, list] of validation.issues.byEdge) {
    const edge = edges[index];
    if (edge && validation.issues.byNode.has(edge.source)) continue;
    for (const issue of list) rows.push({ text: `edge ${edge ? `${edge.source} → ${edge.target}` : index}: ${issue.message}` });
  }
  for (const issue of validation.issues.graph) rows.push({ text: `${issue.field || "graph"}: ${issue.message}` });
  if (!rows.length) return null;
  return (
    <div>
      <h2 className="mb-1 text-xs font-semibold uppercase tracking-wide text-slate-600">Problems</h2>
      <ul className="space-y-1 text-xs">
        {rows.map((row, index) => (
          <li key={index} className="rounded bg-red-50 px-2 py-1 text-red-900">
            {row.node ? (
              <button type="button" className="mr-1 font-mono font-semibold underline" onClick={() => onPick(row.node as string)}>
                {row.node}
              </button>
            ) : null}
            {row.text}
          </li>
        ))}
      </ul>
    </div>
  );
}
