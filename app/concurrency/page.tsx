import type { Metadata } from "next";
import { ConcurrencyView } from "@/components/concurrency/concurrency-view";
import { PageHeader } from "@/components/ui/status-views";

export const metadata: Metadata = { title: "Concurrency" };

export default function ConcurrencyPage() {
  return (
    <>
      <PageHeader
        title="Concurrency"
        subtitle="Global limits by key: how many task calls with @task(concurrency_key=…) run at once, who holds a slot and who waits."
      />
      <ConcurrencyView />
    </>
  );
}
