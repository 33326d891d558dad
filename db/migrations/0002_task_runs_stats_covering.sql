DROP INDEX `task_runs_stats_idx`;--> statement-breakpoint
CREATE INDEX `task_runs_stats_idx` ON `task_runs` (`flow_id`,`name`,`ended_at`,`duration_ms`) WHERE state = 'COMPLETED';