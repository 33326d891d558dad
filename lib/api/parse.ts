/** zod parsing at the edge: a failure is a 400 naming the field. */
import type { z } from "zod";
import { zodToPerfect } from "./errors";

export function parseWith<S extends z.ZodType>(schema: S, data: unknown, prefix = ""): z.infer<S> {
  const r = schema.safeParse(data);
  if (!r.success) throw zodToPerfect(r.error, prefix);
  return r.data;
}
