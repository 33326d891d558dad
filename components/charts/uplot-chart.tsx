"use client";
/**
 * The one wrapper around uPlot (canvas charts): the plot is made in an effect, follows its
 * container's width (ResizeObserver) and is destroyed on unmount or when its options or data
 * change. Colours come from the theme's CSS variables (app/globals.css), read when the plot is
 * made. The canvas is hidden from assistive technology: every chart puts its text alternative
 * (a caption, a visually-hidden table) next to this element.
 *
 * `options` and `data` should be memoised by the caller: a new identity makes a new plot.
 */
import { useEffect, useRef } from "react";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import type { RunState } from "@/lib/domain/states";

export interface ChartTheme {
  ink: string;
  muted: string;
  faint: string;
  line: string;
  accent: string;
  magenta: string;
  slow: string;
  critical: string;
  state: Record<RunState, string>;
}

/** The fallbacks are globals.css's values: used only where no stylesheet answered (never in the app). */
const VARS: Record<Exclude<keyof ChartTheme, "state">, [string, string]> = {
  ink: ["--color-ink", "#ecebfa"],
  muted: ["--color-muted", "#b3b0d6"],
  faint: ["--color-faint", "#8e8ab8"],
  line: ["--color-line", "#2c2862"],
  accent: ["--color-accent", "#22d3ee"],
  magenta: ["--color-magenta", "#f472d0"],
  slow: ["--color-st-slow", "#facc15"],
  critical: ["--color-st-critical", "#ff4fa3"],
};
const STATE_VARS: Record<RunState, [string, string]> = {
  PENDING: ["--color-st-pending", "#a3a8b8"],
  RUNNING: ["--color-st-running", "#22d3ee"],
  COMPLETED: ["--color-st-completed", "#4ade80"],
  FAILED: ["--color-st-failed", "#ff6b81"],
  CANCELLED: ["--color-st-cancelled", "#f5a524"],
};

export function chartTheme(): ChartTheme {
  const css = typeof window === "undefined" ? null : getComputedStyle(document.documentElement);
  const read = ([name, fallback]: [string, string]) => css?.getPropertyValue(name).trim() || fallback;
  const theme = Object.fromEntries(Object.entries(VARS).map(([k, v]) => [k, read(v)])) as Omit<ChartTheme, "state">;
  const state = Object.fromEntries(Object.entries(STATE_VARS).map(([k, v]) => [k, read(v)])) as Record<RunState, string>;
  return { ...theme, state };
}

/** Axes in the theme: muted labels, grid and ticks in the panel's line colour. */
export function themedAxis(theme: ChartTheme, extra: uPlot.Axis = {}): uPlot.Axis {
  return {
    stroke: theme.muted,
    grid: { stroke: theme.line, width: 1 },
    ticks: { stroke: theme.line, width: 1 },
    font: "11px ui-monospace, SFMono-Regular, Menlo, monospace",
    ...extra,
  };
}

/** A series drawn as dots only (no line between them). */
export function pointSeries(label: string, colour: string, size = 6): uPlot.Series {
  return { label, stroke: colour, fill: colour, paths: () => null, points: { show: true, size, width: 1, stroke: colour, fill: colour } };
}

/** A horizontal line across the plot (the same value at every x). */
export function levelSeries(label: string, colour: string, dash?: number[]): uPlot.Series {
  return { label, stroke: colour, width: 1, dash, points: { show: false } };
}

export type ChartOptions = Omit<uPlot.Options, "width" | "height">;

export function UplotChart({
  options,
  data,
  height,
  className,
  testId = "uplot-chart",
}: {
  options: (theme: ChartTheme) => ChartOptions;
  data: uPlot.AlignedData;
  height: number;
  className?: string;
  testId?: string;
}) {
  const host = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = host.current;
    if (!el) return;
    const plot = new uPlot({ ...options(chartTheme()), width: Math.max(Math.floor(el.clientWidth), 1), height }, data, el);
    // What was actually plotted, for the end-to-end tests: the series' labels.
    el.dataset.series = plot.series
      .slice(1)
      .map((s) => String(s.label ?? ""))
      .join("|");
    el.dataset.ready = "true";
    const ro = new ResizeObserver((entries) => {
      const w = Math.floor(entries[0]?.contentRect.width ?? 0);
      if (w > 0 && w !== plot.width) plot.setSize({ width: w, height });
    });
    ro.observe(el);
    return () => {
      ro.disconnect();
      plot.destroy();
      delete el.dataset.ready;
    };
  }, [options, data, height]);
  return <div ref={host} aria-hidden="true" className={className} style={{ minHeight: height }} data-testid={testId} />;
}
