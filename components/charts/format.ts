/** Figures shown next to charts, formatted the same wherever they appear (pure: the e2e specs use them too). */

/** A rate in [0, 1] as a percentage with one decimal ("87.5%"); "—" when there is none. */
export function formatRate(rate: number | null): string {
  return rate === null ? "—" : `${(Math.round(rate * 1000) / 10).toFixed(1)}%`;
}
