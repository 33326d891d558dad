import type { Metadata } from "next";
import { Suspense } from "react";
import { HistoryView } from "@/components/history/history-view";
import { LoadingBlock, PageHeader } from "@/components/ui/status-views";

export const metadata: Metadata = { title: "History" };

export default function HistoryPage() {
  return (
    <>
      <PageHeader title="History" subtitle="Every run, newest first. The filters live in the address bar: share the URL to share the view." />
      {/* The view reads the query string, which is only known in the browser for this static shell. */}
      <Suspense fallback={<LoadingBlock lines={2} label="Loading history" />}>
        <HistoryView />
      </Suspense>
    </>
  );
}
