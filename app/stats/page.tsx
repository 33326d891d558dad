import type { Metadata } from "next";
import { StatsView } from "@/components/stats/stats-view";
import { PageHeader } from "@/components/ui/status-views";

export const metadata: Metadata = { title: "Statistics" };

export default function StatsPage() {
  return (
    <>
      <PageHeader
        title="Statistics"
        subtitle="Per-task durations over the last 100 completed runs, and the z-score thresholds that raise SLOW and CRITICAL."
      />
      <StatsView />
    </>
  );
}
