import type { Metadata } from "next";
import { TokensAdmin } from "@/components/auth/tokens-admin";
import { PageHeader } from "@/components/ui/status-views";

export const metadata: Metadata = { title: "API tokens" };

export default function TokensPage() {
  return (
    <>
      <PageHeader title="API tokens" subtitle="For scripts and the CLI (PERFECT_API_TOKEN). Each has a role; a revoked token stops working at once." />
      <TokensAdmin />
    </>
  );
}
