ALTER TABLE `nodes` ADD `status` text DEFAULT 'offline' NOT NULL;--> statement-breakpoint
ALTER TABLE `nodes` ADD `status_changed_at` integer;