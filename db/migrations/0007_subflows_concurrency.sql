CREATE TABLE `concurrency_limits` (
	`key` text PRIMARY KEY NOT NULL,
	`limit` integer NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `concurrency_slots` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`key` text NOT NULL,
	`run_id` integer NOT NULL,
	`call` integer NOT NULL,
	`task_name` text NOT NULL,
	`client_id` text NOT NULL,
	`worker_id` text NOT NULL,
	`state` text NOT NULL,
	`requested_at` integer NOT NULL,
	`acquired_at` integer,
	FOREIGN KEY (`run_id`) REFERENCES `runs`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `concurrency_slots_call_idx` ON `concurrency_slots` (`run_id`,`call`,`key`);--> statement-breakpoint
CREATE INDEX `concurrency_slots_key_idx` ON `concurrency_slots` (`key`,`state`,`id`);--> statement-breakpoint
ALTER TABLE `runs` ADD `parent_run_id` integer;--> statement-breakpoint
ALTER TABLE `runs` ADD `parent_call` integer;--> statement-breakpoint
CREATE INDEX `runs_parent_idx` ON `runs` (`parent_run_id`) WHERE parent_run_id IS NOT NULL;