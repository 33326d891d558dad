"use client";
/** SWR defaults for the dashboard, the shared live event stream and the connection tracking. */
import type { ReactNode } from "react";
import { SWRConfig } from "swr";
import { ApiRequestError, getJson } from "@/hooks/api-fetch";
import { connectionHealth } from "@/hooks/connection-health";
import { LiveEventsProvider } from "@/hooks/use-live-events";

export function Providers({ children }: { children: ReactNode }) {
  return (
    <SWRConfig
      value={{
        fetcher: getJson,
        dedupingInterval: 1000,
        revalidateOnFocus: true,
        onSuccess: () => connectionHealth.fetchSucceeded(),
        onError: (err: unknown) => {
          if (err instanceof ApiRequestError && err.unreachable) connectionHealth.fetchFailed(err.message);
        },
        // 404s are answers (an unknown run), not outages: do not hammer the server with them.
        onErrorRetry: (err, _key, _config, revalidate, { retryCount }) => {
          if (err instanceof ApiRequestError && err.status >= 400 && err.status < 500) return;
          setTimeout(() => revalidate({ retryCount }), Math.min(1000 * 2 ** retryCount, 10_000));
        },
      }}
    >
      <LiveEventsProvider />
      {children}
    </SWRConfig>
  );
}
