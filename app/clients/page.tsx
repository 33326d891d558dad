import type { Metadata } from "next";
import { ClientsView } from "@/components/clients/clients-view";
import { PageHeader } from "@/components/ui/status-views";

export const metadata: Metadata = { title: "Clients" };

export default function ClientsPage() {
  return (
    <>
      <PageHeader title="Clients" subtitle="Worker identities from clients.json, and whether any of their workers is alive." />
      <ClientsView />
    </>
  );
}
