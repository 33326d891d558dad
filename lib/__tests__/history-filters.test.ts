import { beforeAll, describe, expect, it } from "vitest";
import { ManualClock } from "../engine/clock";
import { api, serveTestEngine } from "./helpers";

const { fresh } = serveTestEngine();

const FLOWS = [
  { name: "Daily Sales ETL", tags: { team: "data-eng", env: "prod" }, tasks: [{ name: "a" }] },
  { name: "Weekly Sales Report", tags: { team: "bi", env: "prod" }, tasks: [{ name: "a" }] },
  { name: "Churn Model", tags: { team: "ml", env: "staging" }, tasks: [{ name: "a" }] },
];

describe("history filters and pagination", () => {
  let a: ReturnType<typeof api>;
  let all: { id: string; flow: string; client: string; state: string; createdAt: string; tags: Record<string, string> }[];
  let t0: number;

  beforeAll(async () => {
    const env = fresh();
    const clock = env.clock as ManualClock;
    t0 = clock.now();
    a = api(env);
    const acme = a.worker("acme", "acme-token");
    const other = a.worker("other", "other-token");
    const ra = (await acme.register(FLOWS)).body;
    const ro = (await other.register([{ name: "Daily Sales ETL", tags: { team: "data-eng", env: "dev" }, tasks: [] }])).body;
    const flowIds = [...ra.flows.map((f: any) => f.id), ro.flows[0].id];
    all = [];
    for (let i = 0; i < 60; i++) {
      clock.advance(60_000);
      const fid = flowIds[i % flowIds.length];
      const r = (await a.post(`/api/flows/${fid}/runs`, {})).body;
      all.push({ id: r.id, flow: r.flowName, client: r.clientId, state: "PENDING", createdAt: r.createdAt, tags: r.tags });
    }
    // Finish some runs in various ways.
    const claimedA = (await acme.poll(ra.workerId, { maxRuns: 50 })).body.runs.map((r: any) => r.id);
    for (const [i, id] of claimedA.entries()) {
      const type = i % 3 === 0 ? "run_completed" : i % 3 === 1 ? "run_failed" : null;
      if (type) await acme.events(ra.workerId, id, [{ seq: 1, type, error: "x" }]);
      all.find((r) => r.id === id)!.state = type === "run_completed" ? "COMPLETED" : type === "run_failed" ? "FAILED" : "RUNNING";
    }
    await a.post(`/api/runs/${all.find((r) => r.state === "PENDING")!.id}/cancel`, {});
    all.find((r) => r.state === "PENDING")!.state = "CANCELLED";
    all.reverse(); // newest first
  });

  const ids = (rs: any[]) => rs.map((r) => r.id);
  const list = async (qs: string) => {
    const r = await a.get(`/api/runs?${qs}`);
    expect(r.status).toBe(200);
    return r.body;
  };

  it("lists newest first", async () => {
    expect(ids((await list("limit=200")).runs)).toEqual(ids(all));
  });
  it("filters by state (repeatable)", async () => {
    expect(ids((await list("state=FAILED&limit=200")).runs)).toEqual(ids(all.filter((r) => r.state === "FAILED")));
    expect(ids((await list("state=FAILED&state=COMPLETED&limit=200")).runs)).toEqual(
      ids(all.filter((r) => r.state === "FAILED" || r.state === "COMPLETED")),
    );
  });
  it("filters by flow name substring, case-insensitive", async () => {
    expect(ids((await list("flow=sales&limit=200")).runs)).toEqual(ids(all.filter((r) => /sales/i.test(r.flow))));
    expect((await list("flow=nothing-like-this")).runs).toEqual([]);
  });
  it("filters by client", async () => {
    expect(ids((await list("client=other&limit=200")).runs)).toEqual(ids(all.filter((r) => r.client === "other")));
  });
  it("filters by several tags, all must match", async () => {
    expect(ids((await list("tag=env:prod&limit=200")).runs)).toEqual(ids(all.filter((r) => r.tags.env === "prod")));
    expect(ids((await list("tag=env:prod&tag=team:bi&limit=200")).runs)).toEqual(
      ids(all.filter((r) => r.tags.env === "prod" && r.tags.team === "bi")),
    );
    expect((await list("tag=env:prod&tag=team:ml")).runs).toEqual([]);
  });
  it("filters by date range on creation time", async () => {
    const from = new Date(t0 + 10 * 60_000).toISOString();
    const to = new Date(t0 + 20 * 60_000).toISOString();
    const expected = all.filter((r) => r.createdAt >= from && r.createdAt <= to);
    expect(expected).toHaveLength(11);
    expect(ids((await list(`from=${from}&to=${to}&limit=200`)).runs)).toEqual(ids(expected));
  });
  it("a date-only `to` includes that whole day", async () => {
    const day = new Date(t0 + 60_000).toISOString().slice(0, 10);
    const expected = all.filter((r) => r.createdAt.slice(0, 10) <= day);
    expect(ids((await list(`to=${day}&limit=200`)).runs)).toEqual(ids(expected));
    expect(ids((await list(`from=${day}&to=${day}&limit=200`)).runs)).toEqual(ids(all.filter((r) => r.createdAt.slice(0, 10) === day)));
  });

  it("combines every filter", async () => {
    const from = new Date(t0).toISOString();
    const expected = all.filter((r) => r.state === "COMPLETED" && /daily/i.test(r.flow) && r.client === "acme" && r.tags.team === "data-eng");
    expect(expected.length).toBeGreaterThan(0);
    expect(ids((await list(`state=COMPLETED&flow=daily&client=acme&tag=team:data-eng&from=${from}`)).runs)).toEqual(ids(expected));
  });
  it("paginates with a cursor without duplicates or gaps", async () => {
    for (const qs of ["limit=7", "limit=7&tag=env:prod", "limit=4&state=PENDING&state=RUNNING", "limit=5&flow=sales"]) {
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const page: any = await list(qs + (cursor ? `&cursor=${cursor}` : ""));
        seen.push(...ids(page.runs));
        cursor = page.nextCursor;
      } while (cursor);
      const full = await list(qs.replace(/limit=\d+/, "limit=200"));
      expect(seen).toEqual(ids(full.runs));
      expect(new Set(seen).size).toBe(seen.length);
    }
  });
  it("refuses bad filters with 400 naming the field", async () => {
    for (const [qs, field] of [
      ["limit=500", "limit"],
      ["state=DONE", "state.0"],
      ["tag=novalue", "tag.0"],
      ["from=yesterday", "from"],
      ["cursor=abc", "cursor"],
    ]) {
      const r = await a.get(`/api/runs?${qs}`);
      expect(r.status).toBe(400);
      expect(r.body.error.details.field).toBe(field);
    }
  });
});
