"use client";
/** The top navigation; wraps under the brand on narrow screens. */
import Link from "next/link";
import { usePathname } from "next/navigation";
import { UserMenu } from "@/components/auth/user-menu";

const LINKS = [
  { href: "/", label: "Flows", match: (p: string) => p === "/" || p.startsWith("/flows/") },
  { href: "/runs", label: "History", match: (p: string) => p.startsWith("/runs") },
  { href: "/stats", label: "Statistics", match: (p: string) => p.startsWith("/stats") },
  { href: "/concurrency", label: "Concurrency", match: (p: string) => p.startsWith("/concurrency") },
  { href: "/clients", label: "Clients", match: (p: string) => p.startsWith("/clients") },
  { href: "/alerts", label: "Alerts", match: (p: string) => p.startsWith("/alerts") },
];

export function TopNav() {
  const pathname = usePathname() ?? "/";
  return (
    <header className="sticky top-0 z-20 border-b border-line bg-void/85 backdrop-blur">
      <div className="mx-auto flex max-w-7xl flex-wrap items-center gap-x-6 gap-y-1 px-4 py-2 sm:px-6">
        <Link href="/" className="flex items-center gap-2 py-1 text-ink no-underline! hover:no-underline" aria-label="Perfect home">
          <Logo />
          <span className="text-lg font-extrabold tracking-[0.18em] text-ink">
            PERF<span className="text-magenta">E</span>CT
          </span>
        </Link>
        <nav aria-label="Main" className="-mx-1 flex max-w-full basis-full overflow-x-auto sm:flex-1 sm:basis-auto">
          <ul className="flex gap-1">
            {LINKS.map((l) => {
              const active = l.match(pathname);
              return (
                <li key={l.href}>
                  <Link
                    href={l.href}
                    data-testid={`nav-${l.label.toLowerCase()}`}
                    aria-current={active ? "page" : undefined}
                    className={`block rounded-md px-3 py-2 text-sm font-semibold no-underline! transition-colors ${
                      active
                        ? "bg-accent/10 text-accent shadow-[inset_0_-2px_0_var(--color-accent)]"
                        : "text-muted hover:bg-panel-2 hover:text-ink"
                    }`}
                  >
                    {l.label}
                  </Link>
                </li>
              );
            })}
          </ul>
        </nav>
        <UserMenu />
      </div>
    </header>
  );
}

function Logo() {
  return (
    <svg width="26" height="26" viewBox="0 0 32 32" aria-hidden="true">
      <defs>
        <linearGradient id="perfect-logo" x1="0" y1="0" x2="1" y2="1">
          <stop offset="0" stopColor="#22d3ee" />
          <stop offset="1" stopColor="#f472d0" />
        </linearGradient>
      </defs>
      <path d="M16 2 29 9.5v13L16 30 3 22.5v-13Z" fill="none" stroke="url(#perfect-logo)" strokeWidth="2.2" />
      <path d="M11 22V10h6a4 4 0 0 1 0 8h-6" fill="none" stroke="#ecebfa" strokeWidth="2.2" strokeLinecap="round" strokeLinejoin="round" />
    </svg>
  );
}
