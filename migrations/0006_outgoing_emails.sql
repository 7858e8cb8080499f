CREATE TABLE `outgoing_emails` (
	`id` text PRIMARY KEY NOT NULL,
	`dedupe_key` text NOT NULL,
	`kind` text NOT NULL,
	`escalation_id` text,
	`from_address` text NOT NULL,
	`to_addresses` text NOT NULL,
	`subject` text NOT NULL,
	`text_body` text,
	`html_body` text,
	`status` text DEFAULT 'pending' NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`last_error` text,
	`claimed_at` integer,
	`sent_at` integer,
	`message_id` text,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	FOREIGN KEY (`escalation_id`) REFERENCES `escalations`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `outgoing_emails_dedupe_key_unique` ON `outgoing_emails` (`dedupe_key`);--> statement-breakpoint
CREATE INDEX `idx_outgoing_emails_created` ON `outgoing_emails` ("created_at" desc);--> statement-breakpoint
CREATE INDEX `idx_outgoing_emails_escalation` ON `outgoing_emails` (`escalation_id`);--> statement-breakpoint
ALTER TABLE `enrollment_codes` ADD `request_key` text;--> statement-breakpoint
CREATE UNIQUE INDEX `enrollment_codes_request_key_unique` ON `enrollment_codes` (`request_key`);