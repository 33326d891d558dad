import { defineConfig } from "drizzle-kit";

// The PostgreSQL schema and its own migrations (drizzle.config.ts is SQLite's).
export default defineConfig({
  dialect: "postgresql",
  schema: "./db/pg/schema.ts",
  out: "./db/pg-migrations",
});
