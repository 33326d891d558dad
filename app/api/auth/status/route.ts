import { dashboardRead, peerAddress } from "@/lib/api/route";
import { accessOf } from "@/lib/auth/access";
import { isLoopback } from "@/lib/auth/hosts";

export const dynamic = "force-dynamic";

/** Public: whether the first admin must still be created, and whether this caller could (from loopback). */
export const GET = dashboardRead(
  async ({ engine, req }) => ({ setupRequired: !(await accessOf(engine).setupDone()), loopback: isLoopback(peerAddress(req)) }),
  { role: "public" },
);
