/**
 * Per-request Content-Security-Policy for the dashboard pages: scripts only with this
 * request's nonce (Next adds it to its own scripts), so an injected <script> could not run even
 * if some string escaped React's text rendering. Styles may be inline (progress bars use
 * style widths); scripts never. API routes under /api/ set their own headers and skip this; next.config.mjs gives their
 * responses (and an HTML 404 under /api/) a `default-src 'none'` policy.
 */
import { NextResponse, type NextRequest } from "next/server";

export function proxy(request: NextRequest): NextResponse {
  const nonce = Buffer.from(crypto.randomUUID()).toString("base64");
  const dev = process.env.NODE_ENV === "development";
  const csp = [
    "default-src 'self'",
    `script-src 'self' 'nonce-${nonce}' 'strict-dynamic'${dev ? " 'unsafe-eval'" : ""}`,
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join("; ");
  const headers = new Headers(request.headers);
  headers.set("x-nonce", nonce);
  headers.set("Content-Security-Policy", csp);
  const response = NextResponse.next({ request: { headers } });
  response.headers.set("Content-Security-Policy", csp);
  return response;
}

export const config = {
  matcher: [
    {
      // Every page, and every HTML 404 (`/apix`, `/favicon.ico`, `/api`): only the API
      // routes under `/api/` (which set their own headers and must not have their bodies
      // cloned by the proxy) and Next's static assets are left out.
      source: "/((?!api/|_next/static/|_next/image).*)",
      missing: [
        { type: "header", key: "next-router-prefetch" },
        { type: "header", key: "purpose", value: "prefetch" },
      ],
    },
  ],
};
