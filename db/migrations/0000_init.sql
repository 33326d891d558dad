CREATE TABLE `clients` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`sensitivity` text DEFAULT 'normal' NOT NULL,
	`last_seen_at` integer
);
--> statement-breakpoint
CREATE TABLE `flow_tasks` (
	`flow_id` integer NOT NULL,
	`position` integer NOT NULL,
	`name` text NOT NULL,
	`estimated_time` integer,
	`description` text DEFAULT '' NOT NULL,
	PRIMARY KEY(`flow_id`, `position`),
	FOREIGN KEY (`flow_id`) REFERENCES `flows`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `flows` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`client_id` text NOT NULL,
	`name` text NOT NULL,
	`description` text DEFAULT '' NOT NULL,
	`tags` text DEFAULT '{}' NOT NULL,
	`parameters` text DEFAULT '[]' NOT NULL,
	`registered_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`client_id`) REFERENCES `clients`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `flows_client_name_idx` ON `flows` (`client_id`,`name`);--> statement-breakpoint
CREATE TABLE `logs` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`run_id` integer NOT NULL,
	`task_run_id` integer,
	`seq` integer NOT NULL,
	`level` text NOT NULL,
	`message` text NOT NULL,
	`ts` integer NOT NULL,
	FOREIGN KEY (`run_id`) REFERENCES `runs`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `logs_run_idx` ON `logs` (`run_id`,`id`);--> statement-breakpoint
CREATE TABLE `run_tags` (
	`run_id` integer NOT NULL,
	`key` text NOT NULL,
	`value` text NOT NULL,
	PRIMARY KEY(`run_id`, `key`),
	FOREIGN KEY (`run_id`) REFERENCES `runs`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `run_tags_kv_idx` ON `run_tags` (`key`,`value`,`run_id`);--> statement-breakpoint
CREATE TABLE `runs` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`flow_id` integer NOT NULL,
	`client_id` text NOT NULL,
	`flow_name` text NOT NULL,
	`state` text NOT NULL,
	`parameters` text DEFAULT '{}' NOT NULL,
	`tags` text DEFAULT '{}' NOT NULL,
	`trigger` text NOT NULL,
	`worker_id` text,
	`created_at` integer NOT NULL,
	`claimed_at` integer,
	`started_at` integer,
	`ended_at` integer,
	`error` text,
	`progress` real DEFAULT 0 NOT NULL,
	`last_seq` integer DEFAULT 0 NOT NULL,
	`cancel_requested_at` integer,
	FOREIGN KEY (`flow_id`) REFERENCES `flows`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`client_id`) REFERENCES `clients`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `runs_client_state_idx` ON `runs` (`client_id`,`state`,`id`);--> statement-breakpoint
CREATE INDEX `runs_state_idx` ON `runs` (`state`,`id`);--> statement-breakpoint
CREATE INDEX `runs_flow_idx` ON `runs` (`flow_id`,`id`);--> statement-breakpoint
CREATE INDEX `runs_created_idx` ON `runs` (`created_at`);--> statement-breakpoint
CREATE INDEX `runs_worker_state_idx` ON `runs` (`worker_id`,`state`);--> statement-breakpoint
CREATE TABLE `task_runs` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`run_id` integer NOT NULL,
	`flow_id` integer NOT NULL,
	`position` integer NOT NULL,
	`call_index` integer,
	`name` text NOT NULL,
	`weight` real NOT NULL,
	`estimated_time` integer,
	`state` text NOT NULL,
	`reported_progress` real,
	`progress_changed_at` integer,
	`started_at` integer,
	`ended_at` integer,
	`duration_ms` integer,
	`attempt` integer DEFAULT 1 NOT NULL,
	`warning` text,
	`z_score` real,
	`threshold` real,
	`stalled` integer DEFAULT false NOT NULL,
	`error` text,
	FOREIGN KEY (`run_id`) REFERENCES `runs`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `task_runs_run_pos_idx` ON `task_runs` (`run_id`,`position`);--> statement-breakpoint
CREATE INDEX `task_runs_stats_idx` ON `task_runs` (`flow_id`,`name`,`ended_at`) WHERE state = 'COMPLETED';--> statement-breakpoint
CREATE INDEX `task_runs_running_idx` ON `task_runs` (`state`) WHERE state = 'RUNNING';--> statement-breakpoint
CREATE TABLE `task_stats` (
	`flow_id` integer NOT NULL,
	`task_name` text NOT NULL,
	`client_id` text NOT NULL,
	`mean` real NOT NULL,
	`stddev` real NOT NULL,
	`samples` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`recent` text DEFAULT '[]' NOT NULL,
	PRIMARY KEY(`flow_id`, `task_name`),
	FOREIGN KEY (`flow_id`) REFERENCES `flows`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `workers` (
	`id` text PRIMARY KEY NOT NULL,
	`client_id` text NOT NULL,
	`hostname` text,
	`pid` integer,
	`sdk_version` text,
	`registered_at` integer NOT NULL,
	`last_seen_at` integer NOT NULL,
	FOREIGN KEY (`client_id`) REFERENCES `clients`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `workers_client_idx` ON `workers` (`client_id`);