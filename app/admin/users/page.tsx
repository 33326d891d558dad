import type { Metadata } from "next";
import { UsersAdmin } from "@/components/auth/users-admin";
import { PageHeader } from "@/components/ui/status-views";

export const metadata: Metadata = { title: "Users" };

export default function UsersPage() {
  return (
    <>
      <PageHeader title="Users" subtitle="Viewers read; operators also run, cancel, retry and schedule; admins also manage users, tokens and concurrency limits." />
      <UsersAdmin />
    </>
  );
}
