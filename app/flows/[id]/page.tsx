import type { Metadata } from "next";
import { FlowPage } from "@/components/flows/flow-page";

export async function generateMetadata({ params }: { params: Promise<{ id: string }> }): Promise<Metadata> {
  const { id } = await params;
  return { title: `Flow ${id}` };
}

/** A shell: the flow, its schedules and their live updates are fetched in the browser (SWR). */
export default async function FlowRoute({ params }: { params: Promise<{ id: string }> }) {
  const { id } = await params;
  return <FlowPage key={id} id={id} />;
}
