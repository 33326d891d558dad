CREATE TABLE "clients" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"sensitivity" text DEFAULT 'normal' NOT NULL,
	"last_seen_at" bigint
);
--> statement-breakpoint
CREATE TABLE "flow_tasks" (
	"flow_id" integer NOT NULL,
	"position" integer NOT NULL,
	"name" text NOT NULL,
	"estimated_time" bigint,
	"description" text DEFAULT '' NOT NULL,
	CONSTRAINT "flow_tasks_flow_id_position_pk" PRIMARY KEY("flow_id","position")
);
--> statement-breakpoint
CREATE TABLE "flows" (
	"id" serial PRIMARY KEY NOT NULL,
	"client_id" text NOT NULL,
	"name" text NOT NULL,
	"description" text DEFAULT '' NOT NULL,
	"tags" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"parameters" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"version" text DEFAULT '' NOT NULL,
	"registered_at" bigint NOT NULL,
	"updated_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "logs" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"run_id" bigint NOT NULL,
	"task_run_id" bigint,
	"seq" bigint NOT NULL,
	"level" text NOT NULL,
	"message" text NOT NULL,
	"ts" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "run_tags" (
	"run_id" bigint NOT NULL,
	"key" text NOT NULL,
	"value" text NOT NULL,
	CONSTRAINT "run_tags_run_id_key_pk" PRIMARY KEY("run_id","key")
);
--> statement-breakpoint
CREATE TABLE "runs" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"flow_id" integer NOT NULL,
	"client_id" text NOT NULL,
	"flow_name" text NOT NULL,
	"flow_version" text DEFAULT '' NOT NULL,
	"state" text NOT NULL,
	"parameters" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"tags" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"trigger" text NOT NULL,
	"worker_id" text,
	"created_at" bigint NOT NULL,
	"claimed_at" bigint,
	"started_at" bigint,
	"ended_at" bigint,
	"error" text,
	"progress" double precision DEFAULT 0 NOT NULL,
	"last_seq" bigint DEFAULT 0 NOT NULL,
	"cancel_requested_at" bigint,
	"unreported_beats" integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE TABLE "task_runs" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"run_id" bigint NOT NULL,
	"flow_id" integer NOT NULL,
	"position" integer NOT NULL,
	"call_index" integer,
	"name" text NOT NULL,
	"weight" double precision NOT NULL,
	"estimated_time" bigint,
	"state" text NOT NULL,
	"reported_progress" double precision,
	"progress_changed_at" bigint,
	"started_at" bigint,
	"attempt_started_at" bigint,
	"ended_at" bigint,
	"duration_ms" bigint,
	"attempt" integer DEFAULT 1 NOT NULL,
	"warning" text,
	"z_score" double precision,
	"threshold" double precision,
	"stalled" boolean DEFAULT false NOT NULL,
	"error" text
);
--> statement-breakpoint
CREATE TABLE "task_stats" (
	"flow_id" integer NOT NULL,
	"task_name" text NOT NULL,
	"client_id" text NOT NULL,
	"mean" double precision NOT NULL,
	"stddev" double precision NOT NULL,
	"samples" integer NOT NULL,
	"updated_at" bigint NOT NULL,
	"recent" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"calls_recent" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"calls_mean" double precision DEFAULT 1 NOT NULL,
	CONSTRAINT "task_stats_flow_id_task_name_pk" PRIMARY KEY("flow_id","task_name")
);
--> statement-breakpoint
CREATE TABLE "worker_flows" (
	"worker_id" text NOT NULL,
	"flow_id" integer NOT NULL,
	"version" text NOT NULL,
	CONSTRAINT "worker_flows_worker_id_flow_id_pk" PRIMARY KEY("worker_id","flow_id")
);
--> statement-breakpoint
CREATE TABLE "workers" (
	"id" text PRIMARY KEY NOT NULL,
	"client_id" text NOT NULL,
	"hostname" text,
	"pid" integer,
	"sdk_version" text,
	"registered_at" bigint NOT NULL,
	"last_seen_at" bigint NOT NULL
);
--> statement-breakpoint
ALTER TABLE "flow_tasks" ADD CONSTRAINT "flow_tasks_flow_id_flows_id_fk" FOREIGN KEY ("flow_id") REFERENCES "public"."flows"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "flows" ADD CONSTRAINT "flows_client_id_clients_id_fk" FOREIGN KEY ("client_id") REFERENCES "public"."clients"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "logs" ADD CONSTRAINT "logs_run_id_runs_id_fk" FOREIGN KEY ("run_id") REFERENCES "public"."runs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "run_tags" ADD CONSTRAINT "run_tags_run_id_runs_id_fk" FOREIGN KEY ("run_id") REFERENCES "public"."runs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "runs" ADD CONSTRAINT "runs_flow_id_flows_id_fk" FOREIGN KEY ("flow_id") REFERENCES "public"."flows"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "runs" ADD CONSTRAINT "runs_client_id_clients_id_fk" FOREIGN KEY ("client_id") REFERENCES "public"."clients"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "task_runs" ADD CONSTRAINT "task_runs_run_id_runs_id_fk" FOREIGN KEY ("run_id") REFERENCES "public"."runs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "task_stats" ADD CONSTRAINT "task_stats_flow_id_flows_id_fk" FOREIGN KEY ("flow_id") REFERENCES "public"."flows"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "worker_flows" ADD CONSTRAINT "worker_flows_worker_id_workers_id_fk" FOREIGN KEY ("worker_id") REFERENCES "public"."workers"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "worker_flows" ADD CONSTRAINT "worker_flows_flow_id_flows_id_fk" FOREIGN KEY ("flow_id") REFERENCES "public"."flows"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "workers" ADD CONSTRAINT "workers_client_id_clients_id_fk" FOREIGN KEY ("client_id") REFERENCES "public"."clients"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "flows_client_name_idx" ON "flows" USING btree ("client_id","name");--> statement-breakpoint
CREATE INDEX "logs_run_idx" ON "logs" USING btree ("run_id","id");--> statement-breakpoint
CREATE INDEX "run_tags_kv_idx" ON "run_tags" USING btree ("key","value","run_id");--> statement-breakpoint
CREATE INDEX "runs_client_state_idx" ON "runs" USING btree ("client_id","state","id");--> statement-breakpoint
CREATE INDEX "runs_client_idx" ON "runs" USING btree ("client_id","id");--> statement-breakpoint
CREATE INDEX "runs_state_idx" ON "runs" USING btree ("state","id");--> statement-breakpoint
CREATE INDEX "runs_flow_idx" ON "runs" USING btree ("flow_id","id");--> statement-breakpoint
CREATE INDEX "runs_created_idx" ON "runs" USING btree ("created_at");--> statement-breakpoint
CREATE INDEX "runs_worker_state_idx" ON "runs" USING btree ("worker_id","state");--> statement-breakpoint
CREATE UNIQUE INDEX "task_runs_run_pos_idx" ON "task_runs" USING btree ("run_id","position");--> statement-breakpoint
CREATE INDEX "task_runs_stats_idx" ON "task_runs" USING btree ("flow_id","name","ended_at","duration_ms") WHERE state = 'COMPLETED';--> statement-breakpoint
CREATE INDEX "task_runs_running_idx" ON "task_runs" USING btree ("state") WHERE state = 'RUNNING';--> statement-breakpoint
CREATE INDEX "worker_flows_flow_idx" ON "worker_flows" USING btree ("flow_id","version");--> statement-breakpoint
CREATE INDEX "workers_client_idx" ON "workers" USING btree ("client_id");