CREATE TABLE "schedules" (
	"id" serial PRIMARY KEY NOT NULL,
	"flow_id" integer NOT NULL,
	"source" text NOT NULL,
	"code_key" text,
	"cron" text,
	"interval_seconds" integer,
	"anchor" bigint,
	"timezone" text DEFAULT 'UTC' NOT NULL,
	"parameters" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"active" boolean DEFAULT true NOT NULL,
	"catchup" text DEFAULT 'skip' NOT NULL,
	"overlap" text DEFAULT 'allow' NOT NULL,
	"next_fire_at" bigint,
	"last_fired_for" bigint,
	"created_at" bigint NOT NULL,
	"updated_at" bigint NOT NULL
);
--> statement-breakpoint
ALTER TABLE "runs" ADD COLUMN "schedule_id" integer;--> statement-breakpoint
ALTER TABLE "runs" ADD COLUMN "scheduled_for" bigint;--> statement-breakpoint
ALTER TABLE "runs" ADD COLUMN "serial" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "schedules" ADD CONSTRAINT "schedules_flow_id_flows_id_fk" FOREIGN KEY ("flow_id") REFERENCES "public"."flows"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "schedules_flow_idx" ON "schedules" USING btree ("flow_id","id");--> statement-breakpoint
CREATE INDEX "schedules_due_idx" ON "schedules" USING btree ("next_fire_at") WHERE next_fire_at IS NOT NULL;--> statement-breakpoint
CREATE UNIQUE INDEX "runs_schedule_fire_idx" ON "runs" USING btree ("schedule_id","scheduled_for");