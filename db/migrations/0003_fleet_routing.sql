CREATE TABLE `worker_flows` (
	`worker_id` text NOT NULL,
	`flow_id` integer NOT NULL,
	`version` text NOT NULL,
	PRIMARY KEY(`worker_id`, `flow_id`),
	FOREIGN KEY (`worker_id`) REFERENCES `workers`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`flow_id`) REFERENCES `flows`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `worker_flows_flow_idx` ON `worker_flows` (`flow_id`,`version`);--> statement-breakpoint
ALTER TABLE `flows` ADD `version` text DEFAULT '' NOT NULL;--> statement-breakpoint
ALTER TABLE `runs` ADD `flow_version` text DEFAULT '' NOT NULL;--> statement-breakpoint
ALTER TABLE `runs` ADD `unreported_beats` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `task_runs` ADD `attempt_started_at` integer;--> statement-breakpoint
ALTER TABLE `task_stats` ADD `calls_recent` text DEFAULT '[]' NOT NULL;--> statement-breakpoint
ALTER TABLE `task_stats` ADD `calls_mean` real DEFAULT 1 NOT NULL;