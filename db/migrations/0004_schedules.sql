CREATE TABLE `schedules` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`flow_id` integer NOT NULL,
	`source` text NOT NULL,
	`code_key` text,
	`cron` text,
	`interval_seconds` integer,
	`anchor` integer,
	`timezone` text DEFAULT 'UTC' NOT NULL,
	`parameters` text DEFAULT '{}' NOT NULL,
	`active` integer DEFAULT true NOT NULL,
	`catchup` text DEFAULT 'skip' NOT NULL,
	`overlap` text DEFAULT 'allow' NOT NULL,
	`next_fire_at` integer,
	`last_fired_for` integer,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`flow_id`) REFERENCES `flows`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `schedules_flow_idx` ON `schedules` (`flow_id`,`id`);--> statement-breakpoint
CREATE INDEX `schedules_due_idx` ON `schedules` (`next_fire_at`) WHERE next_fire_at IS NOT NULL;--> statement-breakpoint
ALTER TABLE `runs` ADD `schedule_id` integer;--> statement-breakpoint
ALTER TABLE `runs` ADD `scheduled_for` integer;--> statement-breakpoint
ALTER TABLE `runs` ADD `serial` integer DEFAULT false NOT NULL;--> statement-breakpoint
CREATE UNIQUE INDEX `runs_schedule_fire_idx` ON `runs` (`schedule_id`,`scheduled_for`);