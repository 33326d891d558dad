import { afterAll, beforeAll } from "vitest";
import { describeStoreContract } from "../contract";
import { PostgresStore } from "./pg-store";
import { createPgPool } from "./pool";
import { startTestDatabases, type TestDatabases } from "./test-database";

// A real PostgreSQL 15 of this file's own (free port), a fresh database per test.
let dbs: TestDatabases;
beforeAll(async () => {
  dbs = await startTestDatabases();
});
afterAll(async () => {
  await dbs?.stop();
});

describeStoreContract("postgres", async () => {
  const store = new PostgresStore(createPgPool(await dbs.fresh(), 25));
  return { store, close: () => store.close() };
});
