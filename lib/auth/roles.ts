/** viewer < operator < admin: each role can do what the ones below it can. */
import { USER_ROLES, type UserRole } from "../domain/states";

const RANK: Record<UserRole, number> = { viewer: 0, operator: 1, admin: 2 };

export function roleAtLeast(have: UserRole, need: UserRole): boolean {
  return RANK[have] >= RANK[need];
}

export { USER_ROLES, type UserRole };
