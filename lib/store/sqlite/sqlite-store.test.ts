// The store contract on SQLite: a fresh in-memory database per test.
import { describeStoreContract } from "../contract";
import { openSqliteStore } from "./sqlite-store";

describeStoreContract("sqlite", async () => {
  const store = openSqliteStore(":memory:");
  return { store, close: () => store.close() };
});
