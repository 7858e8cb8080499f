-- The known issues seeded at install (fixed ids, so re-seeding is a no-op).
INSERT OR IGNORE INTO `node_known_issues` (`id`, `pattern`, `description`, `fix_type`, `fix_version`, `auto_resolve`, `created_at`) VALUES
('5f1f0a8e-6a39-4c38-9a53-6c1c7d1e0001', 'EADDRINUSE', 'Port conflict from zombie process - fixed in 0.3.1', 'update', '0.3.1', 1, 1764288000000),
('5f1f0a8e-6a39-4c38-9a53-6c1c7d1e0002', 'process.exit.*watchdog.*max uptime', 'Watchdog kills daemon, schtasks won''t restart - fixed in 0.3.1', 'update', '0.3.1', 1, 1764288000000);
