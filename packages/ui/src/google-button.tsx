import { userAnswer } from '@ballast/contracts/auth';
import { useEffect, useRef, useState } from 'react';
import { api } from './api.ts';
import type { User } from './session.tsx';

interface GoogleIdentity {
  accounts: {
    id: {
      initialize(options: { client_id: string; callback: (response: { credential: string }) => void }): void;
      renderButton(element: HTMLElement, options: Record<string, string | number>): void;
    };
  };
}

const GIS_SCRIPT = 'https://accounts.google.com/gsi/client';

function loadGoogleIdentity(): Promise<GoogleIdentity> {
  const existing = (window as unknown as { google?: GoogleIdentity }).google;
  if (existing !== undefined) return Promise.resolve(existing);
  return new Promise((resolve, reject) => {
    const script = document.createElement('script');
    script.src = GIS_SCRIPT;
    script.async = true;
    script.onload = () => {
      const google = (window as unknown as { google?: GoogleIdentity }).google;
      if (google === undefined) reject(new Error('Google sign-in did not load'));
      else resolve(google);
    };
    script.onerror = () => reject(new Error('Google sign-in could not be reached'));
    document.head.append(script);
  });
}

/**
 * "Sign in with Google" through Google Identity Services: Google hands the page an ID token,
 * which the server verifies against Google's published keys. Renders nothing when the site has
 * no `GOOGLE_CLIENT_ID`.
 */
export function GoogleButton({
  clientId,
  onSignedIn,
  onError,
}: {
  readonly clientId: string | null;
  readonly onSignedIn: (user: User) => void;
  readonly onError: (message: string) => void;
}) {
  const container = useRef<HTMLDivElement>(null);
  const [failed, setFailed] = useState<string | undefined>(undefined);

  useEffect(() => {
    if (clientId === null || container.current === null) return;
    const element = container.current;
    let cancelled = false;
    loadGoogleIdentity()
      .then((google) => {
        if (cancelled) return;
        google.accounts.id.initialize({
          client_id: clientId,
          callback: ({ credential }) => {
            api('POST', '/api/auth/google', { credential }, userAnswer)
              .then(({ user }) => onSignedIn(user))
              .catch((error: unknown) => onError(error instanceof Error ? error.message : String(error)));
          },
        });
        google.accounts.id.renderButton(element, {
          theme: 'outline',
          size: 'large',
          text: 'continue_with',
          width: 300,
        });
      })
      .catch((error: unknown) => setFailed(error instanceof Error ? error.message : String(error)));
    return () => {
      cancelled = true;
    };
  }, [clientId, onSignedIn, onError]);

  if (clientId === null) return null;
  return (
    <div className="google-sign-in">
      <div ref={container} data-testid="google-button" />
      {failed === undefined ? null : <p className="muted">{failed}</p>}
    </div>
  );
}
