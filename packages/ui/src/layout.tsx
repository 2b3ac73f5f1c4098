import type { ReactNode } from 'react';
import { rolesOf, useSession, type User } from './session.tsx';

export interface NavLink {
  readonly href: string;
  readonly label: string;
}

/** The platform administrator's role, who sees the operator navigation. */
const ADMIN_ROLE = 'platform:admin';

/** What the server told the page about operator pages (data attributes on <html>). */
export function serverFlags(): { devInbox: boolean; apiDocs: boolean } {
  const data = typeof document === 'undefined' ? {} : document.documentElement.dataset;
  return { devInbox: data['devInbox'] === 'true', apiDocs: data['apiDocs'] === 'true' };
}

function Link({ link, here }: { readonly link: NavLink; readonly here: string }) {
  return (
    <a href={link.href} aria-current={link.href === here ? 'page' : undefined}>
      {link.label}
    </a>
  );
}

/**
 * The one header (the server-rendered pages print the same markup): skip link, the brand with the
 * product you are in, the product's links, the operator links for an administrator (Users,
 * Audit, Tasks, the development inbox, API docs), and who is signed in, kept current by the
 * session.
 */
export function Header({
  product,
  productHref = '/',
  nav = [],
}: {
  readonly product?: string | undefined;
  readonly productHref?: string | undefined;
  readonly nav?: readonly NavLink[] | undefined;
}) {
  const session = useSession();
  const here = typeof location === 'undefined' ? '' : location.pathname.replace(/(.)\/+$/, '$1');
  const user = session.state.status === 'signed-in' ? session.state.user : undefined;
  const admin = user !== undefined && rolesOf(user).active.includes(ADMIN_ROLE);
  const flags = serverFlags();
  const adminLinks: NavLink[] = [
    { href: '/admin/users', label: 'Users' },
    { href: '/admin/audit', label: 'Audit' },
    { href: '/admin/tasks', label: 'Tasks' },
    ...(flags.devInbox ? [{ href: '/dev/inbox', label: 'Inbox' }] : []),
    ...(flags.apiDocs ? [{ href: '/docs', label: 'API docs' }] : []),
  ];
  return (
    <>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <a className="brand" href={product === undefined ? '/' : productHref}>
          <span className="brand-mark" aria-hidden="true"></span>
          Ballast
          {product === undefined ? null : <span className="brand-product">{product}</span>}
        </a>
        <nav aria-label="Main">
          {nav.length > 0 ? (
            <div className="nav-group">
              {nav.map((link) => (
                <Link key={link.href} link={link} here={here} />
              ))}
            </div>
          ) : null}
          {admin ? (
            <div className="nav-group nav-admin" role="group" aria-label="Operations">
              {adminLinks.map((link) => (
                <Link key={link.href} link={link} here={here} />
              ))}
            </div>
          ) : null}
          <div className="nav-group">
            {user !== undefined ? (
              <>
                <a className="account-link" href="/account" aria-current={here === '/account' ? 'page' : undefined}>
                  {user.displayName ?? user.email}
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
              <a href={`/sign-in?next=${encodeURIComponent(here)}`}>Sign in</a>
            ) : null}
          </div>
        </nav>
      </header>
    </>
  );
}

/**
 * In development, where emails land in the development inbox instead of being sent: a line that
 * links it, for the pages that say "check your inbox".
 */
export function DevInboxHint() {
  if (!serverFlags().devInbox) return null;
  return (
    <p className="muted" data-testid="dev-inbox-hint">
      Development server: emails are not sent but kept in the <a href="/dev/inbox">development inbox</a>.
    </p>
  );
}

/** Ballast's page frame: the one header, then the page's content in <main>. */
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
  return (
    <>
      <Header product={product} productHref={productHref} nav={nav} />
      <main id="main" tabIndex={-1}>
        {children}
      </main>
    </>
  );
}

/** A narrow card for one form (sign-in, registration, reset). Its title is the page's one h1. */
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
