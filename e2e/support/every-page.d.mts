export interface DashboardPage {
  name: string;
  path: string;
  ready: string;
  empty?: string;
}
export const EVERY_PAGE: DashboardPage[];
export function pagePath(page: DashboardPage, ids: { run: string; flow: string }): string;
