import type { Metadata } from "next";
import { AlertsView } from "@/components/alerts/alerts-view";
import { PageHeader } from "@/components/ui/status-views";

export const metadata: Metadata = { title: "Alerts" };

export default function AlertsPage() {
  return (
    <>
      <PageHeader
        title="Alerts"
        subtitle="The rules of alerts.json in force, each destination's health, and every delivery with its attempts — live."
      />
      <AlertsView />
    </>
  );
}
