/**
 * Global concurrency limits by key (`@task(concurrency_key="warehouse")`): the key's form, the
 * dashboard's limit body and the views it answers. The worker's slot requests are in worker.ts.
 */
import { z } from "zod";

export const MAX_CONCURRENCY_KEY = 200;
export const MAX_CONCURRENCY_LIMIT = 100_000;
/** 1..200 characters of letters, digits and `_ . : -` (the SDK checks the same). */
export const CONCURRENCY_KEY_PATTERN = /^[A-Za-z0-9_.:-]{1,200}$/;

export const concurrencyKeySchema = z
  .string()
  .min(1, { message: "must not be empty" })
  .max(MAX_CONCURRENCY_KEY, { message: `at most ${MAX_CONCURRENCY_KEY} characters` })
  .regex(CONCURRENCY_KEY_PATTERN, { message: "only letters, digits and _ . : - are allowed" });

export const concurrencyLimitBodySchema = z.object({
  limit: z.number({ message: "expected an integer" }).int({ message: "expected an integer" }).min(0).max(MAX_CONCURRENCY_LIMIT),
});
export type ConcurrencyLimitBody = z.infer<typeof concurrencyLimitBodySchema>;

export interface SlotHolderView {
  slotId: string;
  runId: string;
  flowName: string;
  taskName: string;
  call: number;
  workerId: string;
  acquiredAt: string;
}

export interface SlotWaiterView {
  slotId: string;
  runId: string;
  flowName: string;
  taskName: string;
  call: number;
  workerId: string;
  requestedAt: string;
}

export interface ConcurrencyLimitView {
  key: string;
  /** null: a key in use without a limit row (unlimited). */
  limit: number | null;
  held: number;
  holders: SlotHolderView[];
  /** In line, first to be granted first. */
  waiting: SlotWaiterView[];
  createdAt: string | null;
  updatedAt: string | null;
}

export interface ConcurrencyLimitList {
  limits: ConcurrencyLimitView[];
}
