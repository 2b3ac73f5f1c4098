import { createContext, useCallback, useContext, useEffect, useState, type ReactNode } from 'react';
import type { Parsed } from '@ballast/contracts';
import { sessionAnswer, type publicUser, type roleGrant } from '@ballast/contracts/auth';
import { api } from './api.ts';

export type RoleGrant = Parsed<typeof roleGrant>;

/** The signed-in user as `/api/auth/me` shows it. */
export type User = Parsed<typeof publicUser>;

export type SessionState =
  | { readonly status: 'loading' }
  | { readonly status: 'anonymous' }
  | { readonly status: 'signed-in'; readonly user: User }
  | { readonly status: 'error'; readonly message: string };

export interface Session {
  readonly state: SessionState;
  /** Asks the server again (after signing in, changing roles, ...). */
  refresh(): Promise<void>;
  /** Sets the user the server just answered with, without another round trip. */
  setUser(user: User | null): void;
  signOut(): Promise<void>;
}

async function loadSession(): Promise<SessionState> {
  try {
    // Public: an anonymous visitor gets `null`, not a 401 in the console.
    const { user } = await api('GET', '/api/auth/session', undefined, sessionAnswer);
    return user === null ? { status: 'anonymous' } : { status: 'signed-in', user };
  } catch (error) {
    return { status: 'error', message: error instanceof Error ? error.message : String(error) };
  }
}

const SessionContext = createContext<Session | null>(null);

/** Loads who is signed in once per page and shares it with every component below. */
export function SessionProvider({ children }: { readonly children: ReactNode }) {
  const [state, setState] = useState<SessionState>({ status: 'loading' });

  const refresh = useCallback(() => loadSession().then(setState), []);

  useEffect(() => {
    let current = true;
    const load = () => {
      void loadSession().then((loaded) => {
        if (current) setState(loaded);
      });
    };
    load();
    // Another tab may have signed in or out (an email link, a password reset): ask again when
    // this page is shown again, so the header never shows a stale user.
    const onVisible = () => {
      if (document.visibilityState === 'visible') load();
    };
    const onPageShow = (event: PageTransitionEvent) => {
      if (event.persisted) load();
    };
    document.addEventListener('visibilitychange', onVisible);
    window.addEventListener('pageshow', onPageShow);
    return () => {
      current = false;
      document.removeEventListener('visibilitychange', onVisible);
      window.removeEventListener('pageshow', onPageShow);
    };
  }, []);

  const setUser = useCallback((user: User | null) => {
    setState(user === null ? { status: 'anonymous' } : { status: 'signed-in', user });
  }, []);

  const signOut = useCallback(async () => {
    await api('POST', '/api/auth/sign-out');
    setState({ status: 'anonymous' });
  }, []);

  return <SessionContext value={{ state, refresh, setUser, signOut }}>{children}</SessionContext>;
}

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (session === null) throw new Error('useSession needs a <SessionProvider> above it');
  return session;
}

/** The roles a user holds, active and awaiting approval. */
export function rolesOf(user: User): { active: string[]; pending: string[] } {
  return {
    active: user.roles.filter((grant) => grant.status === 'active').map((grant) => grant.role),
    pending: user.roles.filter((grant) => grant.status === 'pending').map((grant) => grant.role),
  };
}
