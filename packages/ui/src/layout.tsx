import type { ReactNode } from 'react';
import { useSession, type User } from './session.tsx';

export interface NavLink {
  readonly href: string;
  readonly label: string;
}

/** Ballast's page frame: the top bar with the product's name, its links, and who is signed in. */
export function Layout({
  product,
  productHref = '/',
  nav = [],
  children,
}: {
  readonly product?: string;
  readonly productHref?: string;
  readonly nav?: readonly NavLink[];
  readonly children: ReactNode;
}) {
  const session = useSession();
  const here = typeof location === 'undefined' ? '' : location.pathname;
  const signInHref = `/sign-in?next=${encodeURIComponent(here)}`;
  return (
    <>
      <header className="topbar">
        <a className="brand" href={productHref}>
          <span className="brand-mark" aria-hidden="true"></span>
          {product ?? 'Ballast'}
        </a>
        <nav aria-label="Main">
          {nav.map((link) => (
            <a key={link.href} href={link.href} aria-current={link.href === here ? 'page' : undefined}>
              {link.label}
            </a>
          ))}
          {session.state.status === 'signed-in' ? (
            <>
              <a href="/account" className="account-link" aria-current={here === '/account' ? 'page' : undefined}>
                {session.state.user.displayName ?? session.state.user.email}
              </a>
              <button
                type="button"
                className="link-button"
                onClick={() => {
                  void session.signOut().then(() => location.assign('/sign-in'));
                }}
              >
                Sign out
              </button>
            </>
          ) : session.state.status === 'anonymous' && !here.startsWith('/sign-in') ? (
            <a href={signInHref}>Sign in</a>
          ) : null}
        </nav>
      </header>
      <main>{children}</main>
    </>
  );
}

/** A narrow card for one form (sign-in, registration, reset). */
export function Card({ title, children }: { readonly title: string; readonly children: ReactNode }) {
  return (
    <section className="card narrow" aria-labelledby="card-title">
      <h1 id="card-title">{title}</h1>
      {children}
    </section>
  );
}

/** Shows `children` to a signed-in user; asks anyone else to sign in first. */
export function RequireUser({ children }: { readonly children: (user: User) => ReactNode }) {
  const { state } = useSession();
  if (state.status === 'loading') return <p className="muted">Loading…</p>;
  if (state.status === 'error') return <p role="alert">Could not load your account: {state.message}</p>;
  if (state.status === 'anonymous') {
    const next = encodeURIComponent(location.pathname + location.search);
    return (
      <Card title="Sign in to continue">
        <p>This page needs an account.</p>
        <p>
          <a className="button" data-variant="primary" href={`/sign-in?next=${next}`}>
            Sign in
          </a>{' '}
          or <a href={`/register?next=${next}`}>create an account</a>.
        </p>
      </Card>
    );
  }
  return <>{children(state.user)}</>;
}
