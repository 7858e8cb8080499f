CREATE TABLE `bridge_comms` (
	`id` text PRIMARY KEY NOT NULL,
	`telemetry_id` text NOT NULL,
	`from_name` text NOT NULL,
	`class` text NOT NULL,
	`msg` text NOT NULL,
	`status` text DEFAULT 'pending' NOT NULL,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	`acked_at` integer,
	FOREIGN KEY (`telemetry_id`) REFERENCES `node_telemetry`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `bridge_comms_telemetry_id_unique` ON `bridge_comms` (`telemetry_id`);--> statement-breakpoint
CREATE INDEX `idx_bridge_status` ON `bridge_comms` (`status`,"created_at" desc);--> statement-breakpoint
CREATE TABLE `crash_group_nodes` (
	`group_id` text NOT NULL,
	`node_id` text NOT NULL,
	`version` text,
	`last_seen_at` integer NOT NULL,
	PRIMARY KEY(`group_id`, `node_id`),
	FOREIGN KEY (`group_id`) REFERENCES `crash_groups`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`node_id`) REFERENCES `nodes`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE TABLE `crash_groups` (
	`id` text PRIMARY KEY NOT NULL,
	`fingerprint` text NOT NULL,
	`title` text NOT NULL,
	`first_seen_at` integer NOT NULL,
	`last_seen_at` integer NOT NULL,
	`report_count` integer DEFAULT 0 NOT NULL,
	`node_count` integer DEFAULT 0 NOT NULL,
	`versions` text DEFAULT '[]' NOT NULL,
	`latest_telemetry_id` text,
	`latest_sample` text DEFAULT '[]' NOT NULL,
	`known_issue_id` text,
	`state` text DEFAULT 'open' NOT NULL,
	`last_escalated_at` integer,
	`reports_at_last_escalation` integer DEFAULT 0 NOT NULL,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	FOREIGN KEY (`known_issue_id`) REFERENCES `node_known_issues`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `crash_groups_fingerprint_unique` ON `crash_groups` (`fingerprint`);--> statement-breakpoint
CREATE INDEX `idx_crash_groups_last_seen` ON `crash_groups` ("last_seen_at" desc);--> statement-breakpoint
CREATE TABLE `escalations` (
	`id` text PRIMARY KEY NOT NULL,
	`group_id` text NOT NULL,
	`telemetry_id` text NOT NULL,
	`reason` text NOT NULL,
	`reports_since_last` integer NOT NULL,
	`body` text NOT NULL,
	`status` text DEFAULT 'pending' NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`last_error` text,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	`delivered_at` integer,
	FOREIGN KEY (`group_id`) REFERENCES `crash_groups`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `idx_escalations_telemetry` ON `escalations` (`telemetry_id`);--> statement-breakpoint
CREATE INDEX `idx_escalations_created` ON `escalations` ("created_at" desc);--> statement-breakpoint
CREATE TABLE `resolutions` (
	`id` text PRIMARY KEY NOT NULL,
	`telemetry_id` text NOT NULL,
	`group_id` text NOT NULL,
	`node_id` text NOT NULL,
	`known_issue_id` text,
	`action` text NOT NULL,
	`from_version` text,
	`fix_version` text,
	`state` text NOT NULL,
	`auto_resolve` integer DEFAULT false NOT NULL,
	`command_id` text,
	`node_outbox` text,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	`verified_at` integer,
	FOREIGN KEY (`telemetry_id`) REFERENCES `node_telemetry`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`group_id`) REFERENCES `crash_groups`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`node_id`) REFERENCES `nodes`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`known_issue_id`) REFERENCES `node_known_issues`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `idx_resolutions_node` ON `resolutions` (`node_id`,"created_at" desc);--> statement-breakpoint
CREATE INDEX `idx_resolutions_created` ON `resolutions` ("created_at" desc);--> statement-breakpoint
CREATE INDEX `idx_resolutions_outbox` ON `resolutions` (`node_outbox`) WHERE "resolutions"."node_outbox" IS NOT NULL;--> statement-breakpoint
CREATE TABLE `tickets` (
	`id` text PRIMARY KEY NOT NULL,
	`group_id` text NOT NULL,
	`title` text NOT NULL,
	`tags` text DEFAULT '[]' NOT NULL,
	`status` text DEFAULT 'open' NOT NULL,
	`report_count` integer DEFAULT 0 NOT NULL,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`group_id`) REFERENCES `crash_groups`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `tickets_group_id_unique` ON `tickets` (`group_id`);--> statement-breakpoint
CREATE INDEX `idx_tickets_created` ON `tickets` ("created_at" desc);--> statement-breakpoint
CREATE TABLE `triage_receipts` (
	`telemetry_id` text PRIMARY KEY NOT NULL,
	`group_id` text,
	`processed_at` integer NOT NULL,
	FOREIGN KEY (`telemetry_id`) REFERENCES `node_telemetry`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
ALTER TABLE `node_known_issues` ADD `enabled` integer DEFAULT true NOT NULL;--> statement-breakpoint
ALTER TABLE `node_known_issues` ADD `hit_count` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `node_known_issues` ADD `last_hit_at` integer;--> statement-breakpoint
ALTER TABLE `node_known_issues` ADD `updated_at` integer;