ALTER TABLE "flows" ADD COLUMN "max_active_runs" integer;--> statement-breakpoint
ALTER TABLE "runs" ADD COLUMN "limited" boolean DEFAULT false NOT NULL;--> statement-breakpoint
CREATE INDEX "runs_limited_pending_idx" ON "runs" USING btree ("client_id","id") WHERE state = 'PENDING' AND limited;--> statement-breakpoint
CREATE INDEX "runs_flow_running_idx" ON "runs" USING btree ("flow_id") WHERE state = 'RUNNING';