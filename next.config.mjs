/** @type {import('next').NextConfig} */
const securityHeaders = [
  { key: "X-Content-Type-Options", value: "nosniff" },
  { key: "Referrer-Policy", value: "same-origin" },
  { key: "X-Frame-Options", value: "DENY" },
];

const nextConfig = {
  // better-sqlite3 is a native addon: load it from node_modules at run time, never bundle it.
  serverExternalPackages: ["better-sqlite3"],
  poweredByHeader: false,
  devIndicators: false,
  // `npm test` type-checks the whole project as its own step (tsc --noEmit); doing it again in
  // every build only doubles build time.
  typescript: { ignoreBuildErrors: true },
  // proxy.ts buffers a body it runs for; pages take none, so keep what it may buffer small.
  experimental: { proxyClientMaxBodySize: "1mb" },
  async headers() {
    return [
      { source: "/:path*", headers: securityHeaders },
      // API answers are JSON (or the report, which sets its own policy): nothing in them may
      // load or run anything, including an HTML 404 for an unknown /api/ path.
      // This also takes the place of the run report's own policy on its response, which is
      // only ever downloaded (Content-Disposition: attachment): its inline styles apply when
      // the saved file is opened, where no response header exists.
      { source: "/api/:path*", headers: [{ key: "Content-Security-Policy", value: "default-src 'none'; frame-ancestors 'none'" }] },
    ];
  },
};

export default nextConfig;
