"use client";
/** Who the dashboard is signed in as (GET /api/auth/me), and what that role may do. */
import useSWR from "swr";
import type { UserRole } from "@/lib/domain/states";
import { getJson } from "./api-fetch";

export interface Me {
  username: string | null;
  role: UserRole | null;
  /** session, token, or local (the machine itself before the first user exists). */
  via: "session" | "token" | "local" | null;
  setupRequired: boolean;
}

export const ME_KEY = "/api/auth/me";
const RANK: Record<UserRole, number> = { viewer: 0, operator: 1, admin: 2 };

export function useMe() {
  return useSWR<Me>(ME_KEY, getJson, { revalidateOnFocus: true, shouldRetryOnError: false });
}

/**
 * Whether the signed-in role reaches `need`. While unknown (loading) the answer is true, so
 * the controls of the usual case do not flicker in; the server refuses anyway (403).
 */
export function useCan(need: UserRole): boolean {
  const { data } = useMe();
  if (!data || !data.role) return true;
  return RANK[data.role] >= RANK[need];
}
