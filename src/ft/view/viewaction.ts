// What a host does with a view (seed 003): hosts act on views, never on their own suspicion.
// - named primary: a primary already acknowledges it; an initialised backup goes live; anything else
//   waits (an uninitialised host never acts as primary);
// - named backup: a backup of that primary acknowledges it; any other host is brought up as a backup
//   by cloning the primary (state transfer), once the view's primary can be reached;
// - left out by a view newer than the one that gave it its role: it steps down to an idle spare (a
//   primary stops serving, so it cannot serve beside the new one).
import type { View } from './viewservice';

/** Where the view's primary takes backups (its logging channel), and its arbiter generation. */
export interface PrimaryAddress { host: string; port: number; generation: number }

/** The view service's answer to a ping. `primary` is absent until the view's primary is live. */
export interface ViewMessage { view: View; primary?: PrimaryAddress }

export interface HostRole {
  role: 'primary' | 'backup' | 'none';
  /** A backup's primary, "host:port". */
  following?: string;
  /** A backup with its state: booted from the start, or its clone complete. */
  initialised: boolean;
  /** The newest view that gave this host a role (0: none did yet). */
  namedIn: number;
  /** The newest view this host acted on. */
  seen: number;
}

export type ViewAction =
  | { act: 'adopt' }
  | { act: 'go-live' }
  | { act: 'follow'; primary: PrimaryAddress }
  | { act: 'step-down' }
  | { act: 'wait' };

export const addressOf = (primary: { host: string; port: number }): string => `${primary.host}:${primary.port}`;

export function actionFor(me: string, message: ViewMessage, state: HostRole): ViewAction {
  const { view, primary } = message;
  if (view.number < state.seen) return { act: 'wait' };
  if (view.primary === me) {
    if (state.role === 'primary') return { act: 'adopt' };
    return state.role === 'backup' && state.initialised ? { act: 'go-live' } : { act: 'wait' };
  }
  if (view.backups.includes(me)) {
    if (!primary) return { act: 'wait' };
    return state.role === 'backup' && state.following === addressOf(primary) ? { act: 'adopt' } : { act: 'follow', primary };
  }
  // A host that took its role before any view named it (the first backup, booting) keeps it.
  if (state.role !== 'none' && state.namedIn > 0 && view.number > state.namedIn) return { act: 'step-down' };
  return { act: 'adopt' };
}
