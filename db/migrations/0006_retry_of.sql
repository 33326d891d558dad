ALTER TABLE `runs` ADD `retry_of` integer;--> statement-breakpoint
CREATE INDEX `runs_retry_of_idx` ON `runs` (`retry_of`) WHERE retry_of IS NOT NULL;