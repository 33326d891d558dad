import type { TaskStatView } from "@/lib/contracts/dashboard";
import { formatDuration } from "@/components/ui/time-format";

const W = 240;
const H = 64;
const PAD_X = 4;
const PAD_Y = 6;

/**
 * Recent durations (oldest → newest) as a line of dots, with the mean and the SLOW / CRITICAL
 * thresholds as horizontal lines. Durations over a threshold take that threshold's colour.
 */
export function DurationChart({ stat }: { stat: TaskStatView }) {
  const data = stat.recentMs;
  const lines = [stat.meanMs, stat.slowAtMs, stat.criticalAtMs].filter((v): v is number => v !== null);
  const max = Math.max(...data, ...lines, 1) * 1.08;
  const min = Math.max(Math.min(...data, stat.meanMs) * 0.85, 0);
  const y = (v: number) => PAD_Y + (1 - (v - min) / Math.max(max - min, 1)) * (H - 2 * PAD_Y);
  const x = (i: number) => (data.length <= 1 ? W / 2 : PAD_X + (i / (data.length - 1)) * (W - 2 * PAD_X));
  const colour = (v: number) =>
    stat.criticalAtMs !== null && v >= stat.criticalAtMs
      ? "var(--color-st-critical)"
      : stat.slowAtMs !== null && v >= stat.slowAtMs
        ? "var(--color-st-slow)"
        : "var(--color-accent)";
  const label = `${data.length} recent durations of ${stat.taskName}: mean ${formatDuration(stat.meanMs)}${
    stat.slowAtMs !== null ? `, SLOW at ${formatDuration(stat.slowAtMs)}` : ", no threshold yet (fewer than 5 samples)"
  }${stat.criticalAtMs !== null ? `, CRITICAL at ${formatDuration(stat.criticalAtMs)}` : ""}`;
  return (
    <svg
      viewBox={`0 0 ${W} ${H}`}
      width={W}
      height={H}
      role="img"
      aria-label={label}
      data-testid="stats-chart"
      className="block overflow-visible rounded-md border border-line bg-[#0b0a20]"
    >
      <title>{label}</title>
      {stat.criticalAtMs !== null ? (
        <line x1={0} x2={W} y1={y(stat.criticalAtMs)} y2={y(stat.criticalAtMs)} stroke="var(--color-st-critical)" strokeWidth={1} strokeDasharray="4 3" data-testid="chart-critical-line" />
      ) : null}
      {stat.slowAtMs !== null ? (
        <line x1={0} x2={W} y1={y(stat.slowAtMs)} y2={y(stat.slowAtMs)} stroke="var(--color-st-slow)" strokeWidth={1} strokeDasharray="4 3" data-testid="chart-slow-line" />
      ) : null}
      <line x1={0} x2={W} y1={y(stat.meanMs)} y2={y(stat.meanMs)} stroke="var(--color-magenta)" strokeWidth={1} opacity={0.8} data-testid="chart-mean-line" />
      {data.length > 1 ? (
        <polyline
          points={data.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(" ")}
          fill="none"
          stroke="var(--color-accent)"
          strokeOpacity={0.45}
          strokeWidth={1.2}
        />
      ) : null}
      {data.map((v, i) => (
        <circle key={i} cx={x(i)} cy={y(v)} r={data.length > 60 ? 1.4 : 2} fill={colour(v)} />
      ))}
    </svg>
  );
}

export function ChartLegend() {
  const item = (colour: string, text: string, dashed = false) => (
    <span className="flex items-center gap-1.5">
      <svg width="18" height="6" aria-hidden="true">
        <line x1="0" x2="18" y1="3" y2="3" stroke={colour} strokeWidth="2" strokeDasharray={dashed ? "4 3" : undefined} />
      </svg>
      {text}
    </span>
  );
  return (
    <div className="flex flex-wrap gap-4 text-xs text-muted">
      {item("var(--color-accent)", "recent durations (oldest → newest)")}
      {item("var(--color-magenta)", "mean")}
      {item("var(--color-st-slow)", "SLOW threshold", true)}
      {item("var(--color-st-critical)", "CRITICAL threshold", true)}
    </div>
  );
}
