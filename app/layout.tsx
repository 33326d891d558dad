import "./globals.css";
import type { ReactNode } from "react";

export const metadata = { title: "Perfect", description: "Workflow orchestration for Python" };

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body>{children}</body>
    </html>
  );
}
