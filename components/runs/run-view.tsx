"use client";
import Link from "next/link";
import { ApiRequestError } from "@/hooks/api-fetch";
import { useRun } from "@/hooks/use-run";
import { EmptyState, ErrorState, LoadingBlock } from "@/components/ui/status-views";
import { ArtifactsPanel } from "./artifacts-panel";
import { LogsPanel } from "./logs-panel";
import { RunDetails } from "./run-details";
import { RunHeader } from "./run-header";
import { RunProgress } from "./run-progress";
import { ParentRunLink, SubflowsPanel } from "./run-tree";
import { TaskTable } from "./task-table";
import { TaskTimeline } from "./task-timeline";

/** The live view of one run: progress, tasks, timeline, details and logs. */
export function RunView({ id }: { id: string }) {
  const { data: run, error } = useRun(id);
  if (error && !run) {
    if (error instanceof ApiRequestError && error.status === 404) {
      return (
        <EmptyState title={`Run ${id} not found`} testId="run-not-found">
          <Link href="/runs">Back to the history</Link>
        </EmptyState>
      );
    }
    return <ErrorState title="Could not load this run" error={error} />;
  }
  if (!run) return <LoadingBlock lines={4} label="Loading run" />;
  return (
    <div data-testid="run-view" data-run-id={run.id}>
      <RunHeader run={run} />
      <ParentRunLink run={run} />
      <div className="grid grid-cols-1 gap-5 xl:grid-cols-[minmax(0,1fr)_22rem]">
        <div className="min-w-0 space-y-5">
          <RunProgress run={run} />
          <TaskTable tasks={run.taskRuns} />
          <TaskTimeline tasks={run.taskRuns} />
        </div>
        <div className="min-w-0 space-y-5">
          <RunDetails run={run} />
          <SubflowsPanel run={run} />
          <ArtifactsPanel run={run} />
        </div>
      </div>
      <div className="mt-5">
        <LogsPanel runId={run.id} tasks={run.taskRuns} />
      </div>
    </div>
  );
}
