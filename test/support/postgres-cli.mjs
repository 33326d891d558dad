#!/usr/bin/env node
// `node test/support/postgres-cli.mjs start` → prints {"url","port","dir"} of a new throw-away
// cluster (left running); `… restart DIR`; `… stop DIR` stops it and deletes DIR.
import { attachPostgres, startPostgres } from "./postgres.mjs";

const [cmd, dir] = process.argv.slice(2);
if (cmd === "start") {
  const pg = await startPostgres();
  console.log(JSON.stringify({ url: pg.url, port: pg.port, dir: pg.dir }));
} else if ((cmd === "stop" || cmd === "restart") && dir) {
  await attachPostgres(dir)[cmd]();
} else {
  console.error("usage: postgres-cli.mjs start | restart DIR | stop DIR");
  process.exit(2);
}
