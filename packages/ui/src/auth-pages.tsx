import type { Parsed } from '@ballast/contracts';
import {
  authConfigAnswer,
  registerAnswer,
  resendConfirmationAnswer,
  resetAnswer,
  resetLinkAnswer,
  resetRequestAnswer,
  sessionsAnswer,
  signInAnswer,
  signOutOthersAnswer,
  userAnswer,
} from '@ballast/contracts/auth';
import { preferencesAnswer } from '@ballast/contracts/notify';
import { balanceAnswer, purchasesAnswer } from '@ballast/contracts/payments';
import { useCallback, useEffect, useRef, useState } from 'react';
import { api, safeNext } from './api.ts';
import { ErrorMessage, Field, Form, formText, Notice, PasswordField, SubmitButton, useSubmission } from './form.tsx';
import { GoogleButton } from './google-button.tsx';
import { formatDate, formatDateTime, formatDuration, formatMoney, formatNumber } from './format.ts';
import { Card, DevInboxHint, RequireUser, serverFlags } from './layout.tsx';
import { rolesOf, useSession, type User } from './session.tsx';
import { describeUserAgent } from './user-agent.ts';

/** What the sign-in page offers, from `/api/auth/config`. */
export type AuthConfig = Parsed<typeof authConfigAnswer>;

export function useAuthConfig(): AuthConfig | undefined {
  const [config, setConfig] = useState<AuthConfig | undefined>(undefined);
  useEffect(() => {
    api('GET', '/api/auth/config', undefined, authConfigAnswer)
      .then(setConfig)
      .catch(() => setConfig({ googleClientId: null, setupRequired: false, products: [] }));
  }, []);
  return config;
}

function query(name: string): string | null {
  return new URLSearchParams(location.search).get(name);
}

/** Where to go once signed in: awaiting approval when every role the user asked for is pending. */
export function landingFor(user: User, next: string): string {
  const { active, pending } = rolesOf(user);
  if (pending.length > 0 && active.length === 0) return `/awaiting-approval?next=${encodeURIComponent(next)}`;
  return next;
}

const PASSWORD_HINT = 'At least 8 characters. Long passphrases are welcome; very common passwords are refused.';

export function SignInPage({ defaultNext = '/account' }: { readonly defaultNext?: string }) {
  const session = useSession();
  const config = useAuthConfig();
  const submission = useSubmission();
  const [googleError, setGoogleError] = useState<string | undefined>(undefined);
  const next = safeNext(query('next'), defaultNext);
  const done = useCallback(
    (user: User) => {
      session.setUser(user);
      location.assign(landingFor(user, next));
    },
    [session, next],
  );

  return (
    <Card title="Sign in">
      {config?.setupRequired === true ? (
        <Notice>
          No administrator exists yet: <a href="/setup">create the first administrator</a>.
        </Notice>
      ) : null}
      <Form
        submission={submission}
        onSubmit={submission.run(async (form) => {
          const { user } = await api(
            'POST',
            '/api/auth/sign-in',
            {
              email: formText(form, 'email'),
              password: formText(form, 'password'),
            },
            signInAnswer,
          );
          done(user);
        })}
        id="sign-in-form"
      >
        <Field label="Email" name="email" type="email" autoComplete="username" required />
        <PasswordField label="Password" name="password" autoComplete="current-password" required />
        <ErrorMessage>{submission.error ?? googleError}</ErrorMessage>
        <SubmitButton busy={submission.busy} busyLabel="Signing in…">
          Sign in
        </SubmitButton>
      </Form>
      {config?.googleClientId ? (
        <>
          <p className="divider">or</p>
          <GoogleButton clientId={config.googleClientId} onSignedIn={done} onError={setGoogleError} />
        </>
      ) : null}
      <p className="form-links">
        <a href={`/register?next=${encodeURIComponent(next)}`}>Create an account</a>
        <a href="/reset">Forgot your password?</a>
      </p>
    </Card>
  );
}

/**
 * "Resend confirmation": a new link for an address not confirmed yet. With `email` known (just
 * registered) it is one button; otherwise it asks for the address. The answer is the same for any
 * address.
 */
export function ResendConfirmation({ email, next }: { readonly email?: string; readonly next?: string | undefined }) {
  const submission = useSubmission();
  const [sent, setSent] = useState<string | undefined>(undefined);
  if (sent !== undefined) return <Notice>{sent}</Notice>;
  return (
    <Form
      id="resend-confirmation-form"
      submission={submission}
      onSubmit={submission.run(async (form) => {
        const answer = await api(
          'POST',
          '/api/auth/resend-confirmation',
          { email: email ?? formText(form, 'email'), ...(next === undefined ? {} : { next }) },
          resendConfirmationAnswer,
        );
        setSent(answer.message);
      })}
    >
      {email === undefined ? (
        <Field label="Email" name="email" type="email" autoComplete="email" required />
      ) : (
        <p>No email after a few minutes? Check your spam folder, or send it again.</p>
      )}
      <ErrorMessage>{submission.error}</ErrorMessage>
      <SubmitButton busy={submission.busy} busyLabel="Sending…">
        Resend confirmation email
      </SubmitButton>
    </Form>
  );
}

/**
 * Registration; `role` (or `?role=` in the address) asks for an app role at the same time, and
 * `?next=` rides in the confirmation link, so the confirmed user lands back where they started.
 */
export function RegisterPage({ role = query('role') ?? undefined }: { readonly role?: string | undefined }) {
  const submission = useSubmission();
  const [sent, setSent] = useState<{ message: string; email: string } | undefined>(undefined);
  const asked = query('next');
  const next = asked === null ? undefined : safeNext(asked, '/account');
  if (sent !== undefined) {
    return (
      <Card title="Check your inbox">
        <Notice>{sent.message}</Notice>
        <p>Open the link in the email to confirm your address; it signs you in.</p>
        <DevInboxHint />
        <ResendConfirmation email={sent.email} next={next} />
      </Card>
    );
  }
  return (
    <Card title="Create an account">
      <Form
        id="register-form"
        submission={submission}
        onSubmit={submission.run(async (form) => {
          const displayName = formText(form, 'displayName').trim();
          const email = formText(form, 'email');
          const answer = await api(
            'POST',
            '/api/auth/register',
            {
              email,
              password: formText(form, 'password'),
              ...(displayName === '' ? {} : { displayName }),
              ...(role === undefined ? {} : { role }),
              ...(next === undefined ? {} : { next }),
            },
            registerAnswer,
          );
          setSent({ message: answer.message, email });
        })}
      >
        <Field label="Name" name="displayName" autoComplete="name" />
        <Field label="Email" name="email" type="email" autoComplete="email" required />
        <PasswordField
          label="Password"
          name="password"
          autoComplete="new-password"
          required
          minLength={8}
          hint={PASSWORD_HINT}
        />
        <ErrorMessage>{submission.error}</ErrorMessage>
        <SubmitButton busy={submission.busy} busyLabel="Creating…">
          Create account
        </SubmitButton>
      </Form>
      <p className="form-links">
        <a href={next === undefined ? '/sign-in' : `/sign-in?next=${encodeURIComponent(next)}`}>
          I already have an account
        </a>
      </p>
    </Card>
  );
}

export function ResetRequestPage() {
  const submission = useSubmission();
  const [sent, setSent] = useState<string | undefined>(undefined);
  return (
    <Card title="Reset your password">
      {sent === undefined ? (
        <Form
          id="reset-request-form"
          submission={submission}
          onSubmit={submission.run(async (form) => {
            const answer = await api(
              'POST',
              '/api/auth/reset-request',
              {
                email: formText(form, 'email'),
              },
              resetRequestAnswer,
            );
            setSent(answer.message);
          })}
        >
          <p>We will email you a link to choose a new password. It works once, for 30 minutes.</p>
          <Field label="Email" name="email" type="email" autoComplete="email" required />
          <ErrorMessage>{submission.error}</ErrorMessage>
          <SubmitButton busy={submission.busy} busyLabel="Sending…">
            Email me a link
          </SubmitButton>
        </Form>
      ) : (
        <>
          <Notice>{sent}</Notice>
          <DevInboxHint />
        </>
      )}
      <p className="form-links">
        <a href="/sign-in">Back to sign in</a>
      </p>
    </Card>
  );
}

/** What the reset page says of a link it cannot use, by the link's state. */
const UNUSABLE_RESET_LINK = {
  unknown: 'This reset link is not valid. Open the link from the email again, or ask for a new one.',
  used: 'This reset link has already been used or is no longer valid (a newer link or a password change spends it).',
  expired: 'This reset link has expired: links work for 30 minutes.',
} as const;

export function ResetConfirmPage() {
  const session = useSession();
  const submission = useSubmission();
  const [done, setDone] = useState<string | undefined>(undefined);
  const token = query('token');
  // Asked on load, so a used or expired link says so before anyone types a new password.
  const [linkState, setLinkState] = useState<Parsed<typeof resetLinkAnswer>['state'] | 'checking' | 'unchecked'>(
    'checking',
  );
  useEffect(() => {
    if (token === null) return;
    api('POST', '/api/auth/reset/check', { token }, resetLinkAnswer)
      .then(({ state }) => setLinkState(state))
      // A link too malformed to check, or no answer: the form still refuses it with the reason.
      .catch(() => setLinkState('unchecked'));
  }, [token]);
  if (token === null) {
    return (
      <Card title="Choose a new password">
        <ErrorMessage>This link is incomplete. Open the link from the email again, or ask for a new one.</ErrorMessage>
        <a href="/reset">Ask for a new link</a>
      </Card>
    );
  }
  if (linkState === 'checking') {
    return (
      <Card title="Choose a new password">
        <p className="muted">Checking your link…</p>
      </Card>
    );
  }
  if (done === undefined && (linkState === 'unknown' || linkState === 'used' || linkState === 'expired')) {
    return (
      <Card title="Choose a new password">
        <ErrorMessage>{UNUSABLE_RESET_LINK[linkState]}</ErrorMessage>
        <a className="button" data-variant="primary" href="/reset">
          Ask for a new link
        </a>
      </Card>
    );
  }
  return (
    <Card title="Choose a new password">
      {done === undefined ? (
        <Form
          id="reset-form"
          submission={submission}
          onSubmit={submission.run(async (form) => {
            const answer = await api(
              'POST',
              '/api/auth/reset',
              {
                token,
                password: formText(form, 'password'),
              },
              resetAnswer,
            );
            setDone(answer.message);
            // A new password signs every session out, this browser's too: the header must say so.
            void session.refresh();
          })}
        >
          <PasswordField
            label="New password"
            name="password"
            autoComplete="new-password"
            required
            minLength={8}
            hint={PASSWORD_HINT}
          />
          <ErrorMessage>{submission.error}</ErrorMessage>
          <SubmitButton busy={submission.busy} busyLabel="Saving…">
            Set new password
          </SubmitButton>
          {submission.error?.includes('link') ? (
            <p>
              <a href="/reset">Ask for a new link</a>
            </p>
          ) : null}
        </Form>
      ) : (
        <>
          <Notice>{done}</Notice>
          <a className="button" data-variant="primary" href="/sign-in">
            Sign in
          </a>
        </>
      )}
    </Card>
  );
}

export function VerifyEmailPage({ defaultNext = '/account' }: { readonly defaultNext?: string }) {
  const session = useSession();
  const token = query('token');
  const [state, setState] = useState<{ status: 'working' | 'done' | 'failed'; message?: string; next?: string }>(
    token === null
      ? { status: 'failed', message: 'This link is incomplete. Open the link from the email again.' }
      : { status: 'working' },
  );
  const sent = useRef(false);
  useEffect(() => {
    if (token === null || sent.current) return;
    sent.current = true;
    api('POST', '/api/auth/verify-email', { token }, userAnswer)
      .then(({ user }) => {
        session.setUser(user);
        setState({ status: 'done', next: landingFor(user, safeNext(query('next'), defaultNext)) });
      })
      .catch((error: unknown) =>
        setState({ status: 'failed', message: error instanceof Error ? error.message : String(error) }),
      );
    // The token is spent on first use: run once per page load.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);
  return (
    <Card title="Confirm your email">
      {state.status === 'working' ? <p className="muted">Confirming…</p> : null}
      {state.status === 'done' ? (
        <>
          <Notice>Your email address is confirmed and you are signed in.</Notice>
          <a className="button" data-variant="primary" href={state.next}>
            Continue
          </a>
        </>
      ) : null}
      {state.status === 'failed' ? (
        <>
          <ErrorMessage>{state.message}</ErrorMessage>
          <p>
            Ask for a new confirmation link, or <a href="/sign-in">sign in</a> if your address is confirmed.
          </p>
          <ResendConfirmation next={query('next') === null ? undefined : safeNext(query('next'), '/account')} />
        </>
      ) : null}
    </Card>
  );
}

function ChangePasswordForm() {
  const session = useSession();
  const submission = useSubmission();
  const [saved, setSaved] = useState(false);
  return (
    <Form
      id="password-form"
      submission={submission}
      onSubmit={submission.run(async (form, element) => {
        const { user } = await api(
          'POST',
          '/api/auth/password',
          {
            currentPassword: formText(form, 'currentPassword'),
            newPassword: formText(form, 'newPassword'),
          },
          userAnswer,
        );
        session.setUser(user);
        element.reset();
        setSaved(true);
      })}
    >
      <h2>Change password</h2>
      <PasswordField label="Current password" name="currentPassword" autoComplete="current-password" required />
      <PasswordField
        label="New password"
        name="newPassword"
        autoComplete="new-password"
        required
        minLength={8}
        hint={PASSWORD_HINT}
      />
      <ErrorMessage>{submission.error}</ErrorMessage>
      {saved && submission.error === undefined ? (
        <Notice>Password changed. Every other session is signed out.</Notice>
      ) : null}
      <SubmitButton busy={submission.busy} busyLabel="Saving…">
        Change password
      </SubmitButton>
    </Form>
  );
}

type Preference = Parsed<typeof preferencesAnswer>['preferences'][number];

const CHANNEL_NAMES = { in_app: 'In the app', email: 'Email', sms: 'Text message' } as const;

/** Which product a notification type is about: `coach.care-plan-ready` → "coach", `platform.*` → "account". */
function notificationSource(type: string): string {
  const app = type.slice(0, type.indexOf('.'));
  return app === 'platform' ? 'account' : app;
}

/**
 * The account page's "Notifications" section (`/account#notifications`, linked from every email's
 * footer): each notification type on each channel, switched on or off at once.
 */
function NotificationSettings() {
  const [preferences, setPreferences] = useState<readonly Preference[] | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  useEffect(() => {
    api('GET', '/api/notifications/preferences', undefined, preferencesAnswer)
      .then((answer) => {
        setPreferences(answer.preferences);
        // Linked from emails as /account#notifications: the section appears after loading.
        if (location.hash === '#notifications') {
          requestAnimationFrame(() => document.getElementById('notifications')?.scrollIntoView());
        }
      })
      .catch((failure: unknown) => setError(failure instanceof Error ? failure.message : String(failure)));
  }, []);
  const change = (preference: Preference, enabled: boolean) => {
    setError(undefined);
    // Shown at once; the answer (or a refusal, which puts the saved settings back) follows.
    setPreferences((current) =>
      current?.map((item) =>
        item.type === preference.type && item.channel === preference.channel ? { ...item, enabled } : item,
      ),
    );
    api(
      'PUT',
      '/api/notifications/preferences',
      { type: preference.type, channel: preference.channel, enabled },
      preferencesAnswer,
    )
      .then((answer) => setPreferences(answer.preferences))
      .catch((failure: unknown) => {
        setError(failure instanceof Error ? failure.message : String(failure));
        // Put back what is saved.
        void api('GET', '/api/notifications/preferences', undefined, preferencesAnswer).then((answer) =>
          setPreferences(answer.preferences),
        );
      });
  };
  return (
    <section id="notifications" aria-labelledby="notifications-title">
      <h2 id="notifications-title">Notifications</h2>
      <p>Choose which messages you get. Account, security and payment messages are always sent.</p>
      <ErrorMessage>{error}</ErrorMessage>
      {preferences === undefined ? (
        <p className="muted">Loading…</p>
      ) : (
        <ul className="preferences" data-testid="notification-settings">
          {preferences.map((preference) => {
            const id = `pref-${preference.type}-${preference.channel}`.replace(/[^a-zA-Z0-9_-]/g, '-');
            return (
              <li key={id}>
                <input
                  type="checkbox"
                  id={id}
                  aria-describedby={`${id}-type`}
                  checked={preference.enabled}
                  disabled={preference.mandatory}
                  onChange={(event) => change(preference, event.currentTarget.checked)}
                />{' '}
                <label htmlFor={id}>
                  {preference.title}: {CHANNEL_NAMES[preference.channel]}
                  {preference.mandatory ? ' (always sent)' : ''}
                </label>{' '}
                <span className="muted" id={`${id}-type`}>
                  {notificationSource(preference.type)} · <code>{preference.type}</code>
                </span>
              </li>
            );
          })}
        </ul>
      )}
    </section>
  );
}

/** The display name, editable in place: trimmed, 1 to 80 characters; the header follows at once. */
function DisplayNameForm({ user }: { readonly user: User }) {
  const session = useSession();
  const submission = useSubmission();
  const [saved, setSaved] = useState(false);
  return (
    <Form
      id="name-form"
      submission={submission}
      onSubmit={submission.run(async (form) => {
        setSaved(false);
        const answer = await api('PATCH', '/api/auth/me', { displayName: formText(form, 'displayName') }, userAnswer);
        session.setUser(answer.user);
        setSaved(true);
      })}
    >
      <Field
        label="Display name"
        name="displayName"
        autoComplete="name"
        required
        maxLength={80}
        defaultValue={user.displayName ?? ''}
        hint="How you appear to others, up to 80 characters."
      />
      <ErrorMessage>{submission.error}</ErrorMessage>
      {saved && submission.error === undefined ? <Notice>Name saved.</Notice> : null}
      <SubmitButton busy={submission.busy} busyLabel="Saving…">
        Save name
      </SubmitButton>
    </Form>
  );
}

type Product = AuthConfig['products'][number];
type Purchase = Parsed<typeof purchasesAnswer>['purchases'][number];

/** A balance in its unit: talk-time in seconds reads "29 min 39 sec"; other units "120 credits". */
export function formatBalance(balance: number, unit: string): string {
  return unit === 'seconds' ? formatDuration(balance) : `${formatNumber(balance)} ${unit}`;
}

/** Whether the user uses (holds or asked for a role in) the product. */
function usesProduct(user: User, product: Product): boolean {
  return user.roles.some((grant) => grant.role.startsWith(`${product.name}:`));
}

/** One product's card: its balance and recent purchases (when it sells anything), and the way in. */
function ProductCard({ product }: { readonly product: Product }) {
  const [balance, setBalance] = useState<Parsed<typeof balanceAnswer> | null | undefined>(undefined);
  const [purchases, setPurchases] = useState<readonly Purchase[]>([]);
  useEffect(() => {
    // A product that sells nothing answers 404 here: its card shows only the way in.
    api('GET', `/api/payments/${product.name}/balance`, undefined, balanceAnswer)
      .then(setBalance)
      .catch(() => setBalance(null));
    api('GET', `/api/payments/${product.name}/purchases`, undefined, purchasesAnswer)
      .then((answer) => setPurchases(answer.purchases.slice(0, 3)))
      .catch(() => setPurchases([]));
  }, [product.name]);
  const titleId = `product-${product.name}`;
  return (
    <li className="app-card" data-app={product.name} aria-labelledby={titleId}>
      <h3 id={titleId}>{product.title}</h3>
      {balance === undefined ? <p className="muted">Loading…</p> : null}
      {balance === null || balance === undefined ? null : (
        <p data-testid={`balance-${product.name}`}>
          Balance: <strong>{formatBalance(balance.balance, balance.unit)}</strong>
        </p>
      )}
      {purchases.length === 0 ? null : (
        <>
          <h4>Recent purchases</h4>
          <ul className="plain-list">
            {purchases.map((purchase) => (
              <li key={purchase.id}>
                {formatDate(purchase.paidAt ?? purchase.createdAt)}:{' '}
                {formatMoney(purchase.amountMinor, purchase.currency)} for{' '}
                {formatBalance(purchase.units, purchase.unit)} <span className="muted">({purchase.status})</span>
                {purchase.status === 'created' ? null : (
                  <>
                    {' '}
                    <a href={`/receipts/${product.name}/${purchase.id}`}>Receipt</a>
                  </>
                )}
              </li>
            ))}
          </ul>
          <p>
            <a href={`/${product.name}/#purchases`}>All purchases and receipts</a>
          </p>
        </>
      )}
      <p>
        <a className="button" data-variant="primary" href={`/${product.name}/`}>
          Open {product.title}
        </a>
      </p>
    </li>
  );
}

/** The products: those the user uses first; each with its balance, purchases and link. */
function ProductsSection({ user }: { readonly user: User }) {
  const config = useAuthConfig();
  if (config === undefined || config.products.length === 0) return null;
  const products = [...config.products].sort((a, b) => Number(usesProduct(user, b)) - Number(usesProduct(user, a)));
  return (
    <section id="products" aria-labelledby="products-title">
      <h2 id="products-title">Your products</h2>
      <ul className="app-grid">
        {products.map((product) => (
          <ProductCard key={product.name} product={product} />
        ))}
      </ul>
    </section>
  );
}

type SessionInfo = Parsed<typeof sessionsAnswer>['sessions'][number];

/** The live sessions (this device marked) and "sign out other sessions". */
function SessionsSection() {
  const [sessions, setSessions] = useState<readonly SessionInfo[] | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const [ended, setEnded] = useState<number | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const load = useCallback(() => {
    api('GET', '/api/auth/sessions', undefined, sessionsAnswer)
      // This device first, then the others as the server lists them (most recently seen first).
      .then((answer) => setSessions([...answer.sessions].sort((a, b) => Number(b.current) - Number(a.current))))
      .catch((failure: unknown) => setError(failure instanceof Error ? failure.message : String(failure)));
  }, []);
  useEffect(load, [load]);
  const others = sessions?.filter((session) => !session.current).length ?? 0;
  return (
    <section id="sessions" aria-labelledby="sessions-title">
      <h2 id="sessions-title">Where you are signed in</h2>
      <ErrorMessage>{error}</ErrorMessage>
      {sessions === undefined ? (
        <p className="muted">Loading…</p>
      ) : (
        <ul className="plain-list sessions" data-testid="sessions">
          {sessions.map((session) => (
            <li key={session.id} data-current={session.current}>
              <strong>{describeUserAgent(session.userAgent)}</strong>{' '}
              {session.current ? (
                <span className="badge" data-state="ok">
                  this device
                </span>
              ) : null}
              <br />
              <span className="muted">
                {session.current ? 'Signed in' : 'Last seen'}{' '}
                {formatDateTime(session.current ? session.createdAt : session.lastSeenAt)}
                {session.ip === null ? '' : `, from ${session.ip}`}
              </span>
            </li>
          ))}
        </ul>
      )}
      {ended === undefined ? null : (
        <Notice>{ended === 1 ? 'One other session is signed out.' : `${ended} other sessions are signed out.`}</Notice>
      )}
      <button
        type="button"
        className="button"
        disabled={busy || others === 0}
        aria-busy={busy}
        onClick={() => {
          setBusy(true);
          setError(undefined);
          // The answer renews this session's cookie: the page goes on signed in.
          api('POST', '/api/auth/sessions/sign-out-others', {}, signOutOthersAnswer)
            .then((answer) => {
              setEnded(answer.ended);
              load();
            })
            .catch((failure: unknown) => setError(failure instanceof Error ? failure.message : String(failure)))
            .finally(() => setBusy(false));
        }}
      >
        {busy ? 'Signing out…' : 'Sign out other sessions'}
      </button>
    </section>
  );
}

export function AccountPage() {
  const session = useSession();
  return (
    <RequireUser>
      {(user) => {
        const { active, pending } = rolesOf(user);
        return (
          <section className="card" aria-labelledby="account-title">
            <h1 id="account-title">Your account</h1>
            <dl className="facts">
              <dt>Email</dt>
              <dd data-testid="account-email">
                {user.email}{' '}
                {user.emailVerified ? (
                  <span className="badge" data-state="ok">
                    verified
                  </span>
                ) : null}
              </dd>
              <dt>Roles</dt>
              <dd>
                {active.length === 0 && pending.length === 0 ? 'none' : null}
                {active.map((role) => (
                  <span key={role} className="badge" data-state="ok">
                    {role}
                  </span>
                ))}
                {pending.map((role) => (
                  <span key={role} className="badge" data-state="soon" title="Awaiting approval">
                    {role} (awaiting approval)
                  </span>
                ))}
              </dd>
              <dt>Member since</dt>
              <dd>{formatDate(user.createdAt)}</dd>
            </dl>
            <DisplayNameForm user={user} />
            <ProductsSection user={user} />
            <SessionsSection />
            <ChangePasswordForm />
            <NotificationSettings />
            <h2>Sign out</h2>
            <p>Signing out here ends every session of this account, on every device.</p>
            <button
              type="button"
              className="button"
              onClick={() => {
                void session.signOut().then(() => location.assign('/sign-in'));
              }}
            >
              Sign out everywhere
            </button>
          </section>
        );
      }}
    </RequireUser>
  );
}

export function AwaitingApprovalPage() {
  const session = useSession();
  return (
    <RequireUser>
      {(user) => {
        const { pending } = rolesOf(user);
        const next = safeNext(query('next'), '/account');
        return (
          <Card title={pending.length > 0 ? 'Awaiting approval' : 'You are approved'}>
            {pending.length > 0 ? (
              <>
                <p>
                  You are signed in as <strong>{user.email}</strong>. Your request for{' '}
                  {pending.map((role, index) => (
                    <span key={role}>
                      {index > 0 ? ', ' : ''}
                      <strong>{role}</strong>
                    </span>
                  ))}{' '}
                  is waiting for an approver, who has been notified. You will get access as soon as they act.
                </p>
                <button type="button" className="button" onClick={() => void session.refresh()}>
                  Check again
                </button>
              </>
            ) : (
              <>
                <Notice>Your access is approved.</Notice>
                <a className="button" data-variant="primary" href={next}>
                  Continue
                </a>
              </>
            )}
          </Card>
        );
      }}
    </RequireUser>
  );
}

export function SetupPage() {
  const session = useSession();
  const submission = useSubmission();
  return (
    <Card title="Create the first administrator">
      <p>
        This page works once: it creates the platform administrator, who can then approve people and manage roles.
        Afterwards it disappears.
      </p>
      <Form
        id="setup-form"
        submission={submission}
        onSubmit={submission.run(async (form) => {
          const displayName = formText(form, 'displayName').trim();
          const { user } = await api(
            'POST',
            '/api/auth/setup',
            {
              email: formText(form, 'email'),
              password: formText(form, 'password'),
              ...(displayName === '' ? {} : { displayName }),
            },
            userAnswer,
          );
          session.setUser(user);
          location.assign('/welcome');
        })}
      >
        <Field label="Name" name="displayName" autoComplete="name" />
        <Field label="Email" name="email" type="email" autoComplete="email" required />
        <PasswordField
          label="Password"
          name="password"
          autoComplete="new-password"
          required
          minLength={8}
          hint={PASSWORD_HINT}
        />
        <ErrorMessage>{submission.error}</ErrorMessage>
        <SubmitButton busy={submission.busy} busyLabel="Creating…">
          Create administrator
        </SubmitButton>
      </Form>
    </Card>
  );
}

/** After setup: what to do next (try the products, where emails go, invite people). */
export function WelcomePage() {
  const config = useAuthConfig();
  const devInbox = serverFlags().devInbox;
  return (
    <RequireUser>
      {(user) => (
        <section className="card" aria-labelledby="welcome-title">
          <h1 id="welcome-title">
            Welcome{user.displayName === null ? '' : `, ${user.displayName}`}: Ballast is set up
          </h1>
          <p>You are the platform administrator. Three things to do next:</p>
          <h2>1. Try the products</h2>
          {config === undefined ? (
            <p className="muted">Loading…</p>
          ) : config.products.length === 0 ? (
            <p>No product is available yet.</p>
          ) : (
            <ul className="next-steps" data-testid="welcome-products">
              {config.products.map((product) => (
                <li key={product.name}>
                  <a href={`/${product.name}/`}>Try {product.title}</a>: {product.summary}
                </li>
              ))}
            </ul>
          )}
          <h2>2. Where emails go</h2>
          {devInbox ? (
            <p>
              This development server sends no email: every message (confirmations, resets, receipts) waits in the{' '}
              <a href="/dev/inbox">development inbox</a>. Set <code>SMTP_URL</code> to send real email.
            </p>
          ) : (
            <p>
              Emails go out through the SMTP server in <code>SMTP_URL</code>, from the address in{' '}
              <code>EMAIL_FROM</code>. Each person chooses which ones they get in their{' '}
              <a href="/account#notifications">notification settings</a>.
            </p>
          )}
          <h2>3. Invite people</h2>
          <p>
            Send people the <a href="/register">registration page</a>; they confirm their address by email. Roles that
            need approval wait for you in <a href="/admin/users">Users</a>, and every change is in the{' '}
            <a href="/admin/audit">audit trail</a>.
          </p>
          <p className="form-links">
            <a className="button" data-variant="primary" href="/admin/users">
              Go to Users
            </a>
          </p>
        </section>
      )}
    </RequireUser>
  );
}
