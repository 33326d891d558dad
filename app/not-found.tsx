import Link from "next/link";
import { EmptyState } from "@/components/ui/status-views";

export default function NotFound() {
  return (
    <EmptyState title="Page not found" testId="not-found">
      <Link href="/">Back to the flows</Link>
    </EmptyState>
  );
}
