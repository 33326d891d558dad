ALTER TABLE `flows` ADD `max_active_runs` integer;--> statement-breakpoint
ALTER TABLE `runs` ADD `limited` integer DEFAULT false NOT NULL;--> statement-breakpoint
CREATE INDEX `runs_limited_pending_idx` ON `runs` (`client_id`,`id`) WHERE state = 'PENDING' AND limited;--> statement-breakpoint
CREATE INDEX `runs_flow_running_idx` ON `runs` (`flow_id`) WHERE state = 'RUNNING';