/** A read-only canvas: a past version, a diff of two versions, a run being watched. */
import { useCallback, useMemo, useState, type ReactNode } from "react";
import { Background, Controls, MiniMap, ReactFlow, ReactFlowProvider, type NodeChange } from "@xyflow/react";
import { toFlow, type GraphDefinition, type StepData, type StepEdge, type StepNode } from "../lib/graph";
import { layout } from "../lib/layout";
import { nodeTypes } from "./StepNode";

export function StaticCanvas({
  definition,
  decorate,
  decorateEdge,
  selected,
  onSelect,
  overlay,
}: {
  definition: GraphDefinition;
  decorate?: (id: string) => Partial<StepData> | undefined;
  decorateEdge?: (edge: StepEdge) => StepEdge;
  selected?: string | null;
  onSelect?: (id: string | null) => void;
  overlay?: ReactNode;
}) {
  const base = useMemo(() => {
    const flowGraph = toFlow(definition);
    return definition.nodes.some((node) => !node.position) ? { ...flowGraph, nodes: layout(flowGraph.nodes, flowGraph.edges) } : flowGraph;
  }, [definition]);
  // Measured sizes come back as changes; kept here so the minimap and fit view know them.
  const [sizes, setSizes] = useState<Record<string, { width: number; height: number }>>({});
  const onNodesChange = useCallback((changes: NodeChange<StepNode>[]) => {
    const measured = changes.flatMap((change) => (change.type === "dimensions" && change.dimensions ? [[change.id, change.dimensions] as const] : []));
    if (measured.length) setSizes((all) => ({ ...all, ...Object.fromEntries(measured) }));
  }, []);
  const nodes = useMemo<StepNode[]>(
    () =>
      base.nodes.map((node) => {
        const extra = decorate?.(node.id);
        return { ...node, measured: sizes[node.id], selected: node.id === selected, data: extra ? { ...node.data, ...extra } : node.data };
      }),
    [base, decorate, selected, sizes],
  );
  const edges = useMemo(() => (decorateEdge ? base.edges.map(decorateEdge) : base.edges), [base, decorateEdge]);
  return (
    <ReactFlowProvider>
      <div className="relative h-full w-full">
        <ReactFlow<StepNode, StepEdge>
          nodes={nodes}
          edges={edges}
          nodeTypes={nodeTypes}
          onNodesChange={onNodesChange}
          nodesDraggable={false}
          nodesConnectable={false}
          elementsSelectable
          onNodeClick={(_, node) => onSelect?.(node.id)}
          onPaneClick={() => onSelect?.(null)}
          fitView
          fitViewOptions={{ padding: 0.15, maxZoom: 1 }}
          minZoom={0.1}
          proOptions={{ hideAttribution: true }}
          aria-label="Graph canvas (read-only)"
        >
          <Background gap={16} />
          <Controls showInteractive={false} />
          <MiniMap pannable zoomable ariaLabel="Minimap" nodeColor="#a5b4fc" nodeStrokeColor="#4f46e5" />
        </ReactFlow>
        {overlay}
      </div>
    </ReactFlowProvider>
  );
}
