/**
 * The shape every benchmark prints: { id, title, command, figures: [...], details }.
 * A figure carries its goal, median and p99 over repeated trials, and a verdict; a figure with a
 * baseline also carries the ratio. For rates "p99" is the rate 99 % of trials reached (the low tail).
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { percentile, summarize } from "./stats.mjs";

const r3 = (x) => (Number.isFinite(x) ? Math.round(x * 1000) / 1000 : x);

/** Latency in ms: met when both the median and the p99 are within the goal. */
export function latencyFigure({ what, samples, goal, note }) {
  const s = summarize(samples);
  return {
    what,
    unit: "ms",
    kind: "latency",
    goal: `p50 ≤ ${goal.median} ms, p99 ≤ ${goal.p99} ms`.replace(/^p50 ≤ undefined ms, /, ""),
    trials: s.n,
    median: r3(s.median),
    p99: r3(s.p99),
    max: r3(s.max),
    met: s.n > 0 && (goal.median === undefined || s.median <= goal.median) && s.p99 <= goal.p99,
    note,
  };
}

/** A ratio against a baseline run side by side: judged on the median of per-trial ratios. */
export function ratioFigure({ what, versus, ratios, min, subject, baseline, unit, note }) {
  const s = summarize(ratios);
  return {
    what,
    ...(versus ? { versus } : {}),
    unit: "×",
    kind: "ratio",
    goal: `≥ ${min} of the baseline`,
    trials: s.n,
    median: r3(s.median),
    p99: r3(percentile(ratios, 1)),
    met: s.n > 0 && s.median >= min,
    subject: subject && { unit, median: r3(summarize(subject).median), p99: r3(percentile(subject, 1)) },
    baseline: baseline && { unit, median: r3(summarize(baseline).median), p99: r3(percentile(baseline, 1)) },
    note,
  };
}

/** A rate (per second) with a floor. */
export function rateFigure({ what, rates, min, unit, note, extraMet = true }) {
  const s = summarize(rates);
  return {
    what,
    unit,
    kind: "rate",
    goal: `≥ ${min.toLocaleString("en-US")} ${unit}`,
    trials: s.n,
    median: r3(s.median),
    p99: r3(percentile(rates, 1)),
    met: s.n > 0 && s.median >= min && extraMet,
    note,
  };
}

/** A size (e.g. RSS in MB) with a ceiling. */
export function ceilingFigure({ what, samples, max, unit, note }) {
  const s = summarize(samples);
  return {
    what,
    unit,
    kind: "ceiling",
    goal: `≤ ${max} ${unit}`,
    trials: s.n,
    median: r3(s.median),
    p99: r3(s.p99),
    max: r3(s.max),
    met: s.n > 0 && s.max <= max,
    note,
  };
}

/**
 * A comparison that could not be measured (a peer that cannot be installed or started): a row
 * saying so, never a silently missing one.
 */
export function unavailableFigure({ what, versus, reason }) {
  return { what, versus, kind: "unavailable", unit: "×", goal: "—", trials: 0, median: null, p99: null, met: null, note: `not measured: ${reason}` };
}

export function pendingFigure({ what, goal, reason }) {
  return { what, kind: "pending", goal, trials: 0, median: null, p99: null, met: null, note: reason };
}

function parseArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith("--")) continue;
    const key = a.slice(2).replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    const next = argv[i + 1];
    if (next === undefined || next.startsWith("--")) out[key] = true;
    else {
      out[key] = Number.isFinite(Number(next)) ? Number(next) : next;
      i++;
    }
  }
  return out;
}

/** When `metaUrl` is the script node was started with: run main(args) and print its JSON. */
export function runCli(metaUrl, main) {
  if (!process.argv[1] || path.resolve(process.argv[1]) !== fileURLToPath(metaUrl)) return;
  const args = parseArgs(process.argv.slice(2));
  main(args).then(
    (result) => {
      process.stdout.write(JSON.stringify(result, null, 2) + "\n");
      process.exit(0);
    },
    (e) => {
      console.error(e?.stack ?? e);
      process.exit(1);
    },
  );
}

export function commandOf(script, args = "") {
  return `node bench/${script}${args ? " " + args : ""}`;
}
