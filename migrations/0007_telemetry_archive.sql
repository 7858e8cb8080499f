ALTER TABLE `node_telemetry` ADD `archived_at` integer;--> statement-breakpoint
CREATE INDEX `idx_telemetry_unarchived` ON `node_telemetry` (`created_at`) WHERE "node_telemetry"."archived_at" IS NULL;