ALTER TABLE "runs" ADD COLUMN "retry_of" bigint;--> statement-breakpoint
CREATE INDEX "runs_retry_of_idx" ON "runs" USING btree ("retry_of") WHERE retry_of IS NOT NULL;