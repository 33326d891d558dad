/**
 * Artifacts (what a run publishes for its run view, Prefect's `prefect.artifacts`), variables
 * (named JSON values, Prefect's `Variable`) and direct runs (`python etl.py` with PERFECT_URL
 * set): the wire format of their worker and dashboard routes.
 */
import { z } from "zod";
import { dataRecord } from "./data-record";

const workerId = z.string().min(1).max(100);
export const MAX_MARKDOWN = 256 * 1024;
export const MAX_TABLE_ROWS = 5000;
export const MAX_TABLE_COLUMNS = 200;
export const MAX_VARIABLE_BYTES = 64 * 1024;
export const ARTIFACT_KEY_PATTERN = /^[a-z0-9-]{1,200}$/;

const cell = z.union([z.string().max(10_000), z.number(), z.boolean(), z.null()]);
/** Only http(s) links: a `javascript:` or `data:` URL never becomes an href. */
export const httpUrl = z
  .string()
  .max(4000)
  .refine((s) => {
    try {
      const u = new URL(s);
      return u.protocol === "http:" || u.protocol === "https:";
    } catch {
      return false;
    }
  }, { message: "expected an http:// or https:// URL" });

export const markdownDataSchema = z.object({ markdown: z.string().max(MAX_MARKDOWN) });
export const tableDataSchema = z.object({
  columns: z.array(z.string().max(1000)).max(MAX_TABLE_COLUMNS),
  rows: z.array(z.array(cell).max(MAX_TABLE_COLUMNS)).max(MAX_TABLE_ROWS),
});
export const linkDataSchema = z.object({ url: httpUrl, text: z.string().max(1000).nullish() });
export const progressDataSchema = z.object({ progress: z.number().min(0).max(100) });

const key = z.string().regex(ARTIFACT_KEY_PATTERN, { message: "only lowercase letters, digits and dashes (1..200)" }).nullish();
const description = z.string().max(10_000).nullish();
const call = z.number().int().min(0).max(1_000_000).nullish();

/** `POST /api/worker/{clientId}/runs/{runId}/artifacts`: `call` attributes it to a task call of the run. */
export const artifactCreateSchema = z.discriminatedUnion("type", [
  z.object({ workerId, type: z.literal("markdown"), key, description, call, data: markdownDataSchema }),
  z.object({ workerId, type: z.literal("table"), key, description, call, data: tableDataSchema }),
  z.object({ workerId, type: z.literal("link"), key, description, call, data: linkDataSchema }),
  z.object({ workerId, type: z.literal("progress"), key, description, call, data: progressDataSchema }),
]);
export type ArtifactCreate = z.infer<typeof artifactCreateSchema>;

/** `PATCH /api/worker/{clientId}/runs/{runId}/artifacts/{id}`: new data of the artifact's own type. */
export const artifactUpdateSchema = z.object({ workerId, description, data: z.unknown() });
export type ArtifactUpdate = z.infer<typeof artifactUpdateSchema>;

export const artifactDataSchemas = { markdown: markdownDataSchema, table: tableDataSchema, link: linkDataSchema, progress: progressDataSchema } as const;

export interface ArtifactView {
  id: string;
  runId: string;
  taskRunId: string | null;
  key: string | null;
  type: "markdown" | "table" | "link" | "progress";
  description: string;
  data: unknown;
  createdAt: string;
  updatedAt: string;
}

export const VARIABLE_NAME_PATTERN = /^[A-Za-z0-9_.-]{1,200}$/;
export const variableNameSchema = z.string().regex(VARIABLE_NAME_PATTERN, { message: "only letters, digits and _ . - (1..200)" });
/** Any JSON value up to 64 KiB. */
export const variableValueSchema = z
  .unknown()
  .refine((v) => v !== undefined, { message: "required" })
  .refine((v) => Buffer.byteLength(JSON.stringify(v) ?? "") <= MAX_VARIABLE_BYTES, { message: `larger than ${MAX_VARIABLE_BYTES} bytes of JSON` });
export const variableBodySchema = z.object({ value: variableValueSchema });

export interface VariableView {
  name: string;
  value: unknown;
  createdAt: string;
  updatedAt: string;
}

/** `POST /api/worker/{clientId}/runs`: a flow called directly (`trigger: "local"`), RUNNING for the calling worker, which registered the flow. */
export const localRunRequestSchema = z.object({
  workerId,
  flow: z.string().trim().min(1).max(200),
  parameters: dataRecord(z.string().max(200), z.unknown()).optional().transform((p) => p ?? (Object.create(null) as Record<string, unknown>)),
});
export type LocalRunRequest = z.infer<typeof localRunRequestSchema>;
