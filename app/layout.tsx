import "./globals.css";
import type { Metadata, Viewport } from "next";
import { connection } from "next/server";
import type { ReactNode } from "react";
import { ConnectionBanner } from "@/components/shell/connection-banner";
import { Providers } from "@/components/shell/providers";
import { TopNav } from "@/components/shell/top-nav";

export const metadata: Metadata = {
  title: { default: "Perfect", template: "%s · Perfect" },
  description: "Workflow orchestration for Python",
  // Inline, so the dashboard makes no request for it (and works offline).
  icons: {
    icon: `data:image/svg+xml,${encodeURIComponent(
      '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="6" fill="#07061a"/><path d="M16 3 28 10v12L16 29 4 22V10Z" fill="none" stroke="#22d3ee" stroke-width="2.4"/><path d="M12 22V10h5a4 4 0 0 1 0 8h-5" fill="none" stroke="#f472d0" stroke-width="2.4" stroke-linecap="round"/></svg>',
    )}`,
  },
};

export const viewport: Viewport = { themeColor: "#07061a", colorScheme: "dark" };

export default async function RootLayout({ children }: { children: ReactNode }) {
  // Render per request: the CSP nonce from proxy.ts must reach Next's own inline scripts.
  await connection();
  return (
    <html lang="en">
      <body>
        <a href="#main" className="sr-only focus:not-sr-only focus:fixed focus:top-2 focus:left-2 focus:z-50 focus:rounded focus:bg-accent focus:px-3 focus:py-2 focus:text-void">
          Skip to content
        </a>
        <Providers>
          <TopNav />
          <ConnectionBanner />
          <main id="main" className="mx-auto w-full max-w-7xl px-4 py-6 sm:px-6 sm:py-8">
            {children}
          </main>
        </Providers>
      </body>
    </html>
  );
}
