CREATE TABLE "concurrency_limits" (
	"key" text PRIMARY KEY NOT NULL,
	"limit" integer NOT NULL,
	"created_at" bigint NOT NULL,
	"updated_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "concurrency_slots" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"key" text NOT NULL,
	"run_id" bigint NOT NULL,
	"call" integer NOT NULL,
	"task_name" text NOT NULL,
	"client_id" text NOT NULL,
	"worker_id" text NOT NULL,
	"state" text NOT NULL,
	"requested_at" bigint NOT NULL,
	"acquired_at" bigint
);
--> statement-breakpoint
ALTER TABLE "runs" ADD COLUMN "parent_run_id" bigint;--> statement-breakpoint
ALTER TABLE "runs" ADD COLUMN "parent_call" integer;--> statement-breakpoint
ALTER TABLE "concurrency_slots" ADD CONSTRAINT "concurrency_slots_run_id_runs_id_fk" FOREIGN KEY ("run_id") REFERENCES "public"."runs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "concurrency_slots_call_idx" ON "concurrency_slots" USING btree ("run_id","call","key");--> statement-breakpoint
CREATE INDEX "concurrency_slots_key_idx" ON "concurrency_slots" USING btree ("key","state","id");--> statement-breakpoint
CREATE INDEX "runs_parent_idx" ON "runs" USING btree ("parent_run_id") WHERE parent_run_id IS NOT NULL;