import { defineConfig } from "drizzle-kit";

// Flat 0000_name.sql files: the layout wrangler and readD1Migrations() both read.
export default defineConfig({
  dialect: "sqlite",
  schema: "./worker/db/schema.ts",
  out: "./migrations",
});
