CREATE TABLE `releases` (
	`version` text PRIMARY KEY NOT NULL,
	`channel` text NOT NULL,
	`manifest` text NOT NULL,
	`signature` text NOT NULL,
	`key_id` text NOT NULL,
	`sha256` text NOT NULL,
	`size` integer NOT NULL,
	`r2_key` text NOT NULL,
	`expires_at` integer NOT NULL,
	`rollout_percent` integer DEFAULT 100 NOT NULL,
	`status` text DEFAULT 'active' NOT NULL,
	`halted_reason` text,
	`installs` integer DEFAULT 0 NOT NULL,
	`rollbacks` integer DEFAULT 0 NOT NULL,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL
);
--> statement-breakpoint
CREATE INDEX `idx_releases_channel` ON `releases` (`channel`,`status`);