/** A read-only canvas: a past version, a diff of two versions, a run being watched. */
import { useMemo, type ReactNode } from "react";
import { Background, Controls, MiniMap, ReactFlow, ReactFlowProvider } from "@xyflow/react";
import { toFlow, type GraphDefinition, type StepData, type StepEdge, type StepNode } from "../lib/graph";
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
  const base = useMemo(() => toFlow(definition), [definition]);
  const nodes = useMemo<StepNode[]>(
    () =>
      base.nodes.map((node) => {
        const extra = decorate?.(node.id);
        return { ...node, selected: node.id === selected, data: extra ? { ...node.data, ...extra } : node.data };
      }),
    [base, decorate, selected],
  );
  const edges = useMemo(() => (decorateEdge ? base.edges.map(decorateEdge) : base.edges), [base, decorateEdge]);
  return (
    <ReactFlowProvider>
      <div className="relative h-full w-full">
        <ReactFlow<StepNode, StepEdge>
          nodes={nodes}
          edges={edges}
          nodeTypes={nodeTypes}
          nodesDraggable={false}
          nodesConnectable={false}
          elementsSelectable
          onNodeClick={(_, node) => onSelect?.(node.id)}
          onPaneClick={() => onSelect?.(null)}
          fitView
          fitViewOptions={{ padding: 0.15 }}
          minZoom={0.1}
          proOptions={{ hideAttribution: true }}
          aria-label="Graph canvas (read-only)"
        >
          <Background gap={16} />
          <Controls showInteractive={false} />
          <MiniMap pannable zoomable ariaLabel="Minimap" />
        </ReactFlow>
        {overlay}
      </div>
    </ReactFlowProvider>
  );
}
