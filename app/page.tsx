import { FlowsView } from "@/components/flows/flows-view";
import { PageHeader } from "@/components/ui/status-views";

export default function FlowsPage() {
  return (
    <>
      <PageHeader title="Flows" subtitle="Every flow your workers registered. Run one with its parameters and watch it live." />
      <FlowsView />
    </>
  );
}
