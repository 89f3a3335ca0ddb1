/**
 * The API-key check of `POST /hooks/FLOW/NODE`, one for both places that serve webhooks: the server's
 * route (routes/hooks.ts, single mode) and an agent's hooks server (cluster/agent-main.ts hands it to
 * runtime/cli/hooks.ts). The key must be known and not revoked (401) and of at least the role the policy
 * table gives the route (403); its "last used" is written by AuthService.authenticate, as for any key.
 */
import { isRole, roleAtLeast, type Role } from '../store/auth-store.js';
import type { HookAuthenticator } from '../../runtime/host.js';
import { matchPolicy } from './policy.js';
import type { AuthService } from './service.js';

/** the role the policy table gives POST /hooks (a table without the row, or without a role there, is a bug) */
function hookRole(): Role {
  const access = matchPolicy('POST', '/hooks/flow/node')?.policy.access;
  if (!isRole(access)) throw new Error(`auth/policy.ts: POST /hooks/:flow/:node needs a role, not ${String(access)}`);
  return access;
}

/** the check over `auth`'s store: a session cookie counts for nothing here, only `Authorization: Bearer sluice_…` */
export function hookKeyCheck(auth: AuthService): HookAuthenticator {
  const needed = hookRole();
  return async (authorization) => {
    const principal = await auth.authenticate(undefined, authorization);
    if (!principal) return { status: 401, error: 'the API key is unknown or revoked' };
    if (!roleAtLeast(principal.role, needed)) return { status: 403, error: `POST /hooks needs the ${needed} role (${principal.user} is ${principal.role})` };
    return { principal: { user: principal.user, role: principal.role } };
  };
}
