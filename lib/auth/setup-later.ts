/** Set by the setup page's "Not now": the dashboard's home stops opening to /setup in this browser (read by lib/auth/page-gate.ts). */
export const SETUP_LATER_COOKIE = "perfect_setup_later";
