/** What the users and tokens routes answer (GET /api/users, /api/tokens): shared by the routes and the admin pages. */
import type { UserRole } from "../domain/states";

export interface UserView {
  username: string;
  role: UserRole;
  createdAt: string;
  lastLoginAt: string | null;
}

export interface TokenView {
  id: string;
  name: string;
  role: UserRole;
  createdBy: string | null;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}
