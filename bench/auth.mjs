#!/usr/bin/env node
/**
 * Access control (issue 18): what a credential costs per request, against the built server.
 *
 * Two servers side by side on this machine: A never set up (a loopback GET needs no login:
 * one count of users per request while none exists), B set up (an admin, a session, an API
 * token). Each trial sends the same cheap GET (/api/concurrency-limits: an empty list, so the credential is most of the work) to A without credentials, to B with the
 * session cookie and to B with the bearer token, interleaved, so drift on the machine hits all
 * three alike. Reported: each latency (median / p99), and the per-trial ratio A / B (1 = free,
 * lower = the credential costs). The token's first use pays one scrypt (warm-up, not timed);
 * afterwards a use is one row lookup (revoked_at) and a SHA-256, like a session's one join.
 *
 *   node bench/auth.mjs [--trials 2000]
 */
import { BENCH_CLIENT, startServer } from "./lib/server.mjs";
import { commandOf, latencyFigure, ratioFigure, runCli } from "./lib/figures.mjs";
import { apiClient } from "./lib/http.mjs";

const ROUTE = "/api/concurrency-limits";

export async function main(args = {}) {
  const trials = args.trials ?? 2000;
  const a = await startServer({});
  const b = await startServer({});
  try {
    const apiA = apiClient(a.url, { clientId: BENCH_CLIENT.id, token: BENCH_CLIENT.token });
    const apiB = apiClient(b.url, { clientId: BENCH_CLIENT.id, token: BENCH_CLIENT.token });
    const flows = [{ name: "Bench Auth", tasks: [{ name: "t" }], parameters: [] }];
    await apiA.register(flows);
    await apiB.register(flows);
    const setup = await apiB.raw("POST", "/api/auth/setup", { body: { username: "bench", password: "bench-password-1" } });
    if (setup.status !== 201) throw new Error(`setup: HTTP ${setup.status} ${JSON.stringify(setup.body)}`);
    const sid = String(setup.headers["set-cookie"]?.[0] ?? "").split(";")[0];
    if (!sid.startsWith("perfect_session=")) throw new Error("setup set no session cookie");
    const made = await apiB.raw("POST", "/api/tokens", { body: { name: "bench", role: "viewer" }, headers: { cookie: sid } });
    if (made.status !== 201) throw new Error(`token: HTTP ${made.status} ${JSON.stringify(made.body)}`);
    const withSession = { cookie: sid };
    const withToken = { authorization: `Bearer ${made.body.token}` };
    const get = async (api, headers) => {
      const r = await api.raw("GET", ROUTE, { headers });
      if (r.status !== 200) throw new Error(`GET ${ROUTE}: HTTP ${r.status}`);
      return r.ms;
    };
    // Warm-up: JIT, prepared statements, the token's one scrypt.
    for (let i = 0; i < 100; i++) {
      await get(apiA, {});
      await get(apiB, withSession);
      await get(apiB, withToken);
    }
    const open = [];
    const bySession = [];
    const byToken = [];
    for (let i = 0; i < trials; i++) {
      // The order rotates, so no kind always goes first after a pause.
      const order = [() => get(apiA, {}).then((ms) => open.push(ms)), () => get(apiB, withSession).then((ms) => bySession.push(ms)), () => get(apiB, withToken).then((ms) => byToken.push(ms))];
      for (let k = 0; k < 3; k++) await order[(i + k) % 3]();
    }
    const ratios = (xs) => xs.map((x, i) => open[i] / x);
    return {
      id: "auth",
      title: "Access control: the cost of a credential per request",
      command: commandOf("auth.mjs", `--trials ${trials}`),
      figures: [
        latencyFigure({ what: `GET ${ROUTE} before setup (loopback, no credential): the baseline`, samples: open, goal: { p99: 50 }, note: "server A: no user exists" }),
        latencyFigure({ what: `GET ${ROUTE} with a session cookie`, samples: bySession, goal: { p99: 50 }, note: "server B: one sessions ⋈ users lookup by the cookie's SHA-256" }),
        latencyFigure({ what: `GET ${ROUTE} with an API token (after its first use)`, samples: byToken, goal: { p99: 50 }, note: "server B: one api_tokens lookup for revoked_at; the scrypt verification is cached by the token's SHA-256" }),
        ratioFigure({ what: "session-authenticated GET vs the same GET before setup (A / B per trial)", ratios: ratios(bySession), min: 0.8, subject: bySession, baseline: open, unit: "ms", note: "1 = no cost; interleaved trials" }),
        ratioFigure({ what: "token-authenticated GET vs the same GET before setup (A / B per trial)", ratios: ratios(byToken), min: 0.8, subject: byToken, baseline: open, unit: "ms", note: "1 = no cost; interleaved trials" }),
      ],
    };
  } finally {
    await a.stop();
    await b.stop();
  }
}

runCli(import.meta.url, main);
