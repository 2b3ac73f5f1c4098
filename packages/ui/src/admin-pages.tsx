import type { Parsed } from '@ballast/contracts';
import { auditAnswer, auditFacetsAnswer, type auditEvent } from '@ballast/contracts/audit';
import { manageableRolesAnswer, userAnswer, usersAnswer, type manageableRole } from '@ballast/contracts/auth';
import {
  adminUserAnswer,
  grantAnswer,
  type adminUserApp,
  type adminUserSection,
  type purchase,
} from '@ballast/contracts/payments';
import { useCallback, useEffect, useState, type ReactNode } from 'react';
import { Dialog, Heading, Modal, ModalOverlay } from 'react-aria-components';
import { api, ApiError } from './api.ts';
import { ErrorMessage, formText, Notice } from './form.tsx';
import { RequireUser } from './layout.tsx';
import type { User } from './session.tsx';
import { formatDate, formatDateTime, formatDuration, formatMoney, formatUnits } from './format.ts';

type ManageableRole = Parsed<typeof manageableRole>;

type Load<T> = { status: 'loading' } | { status: 'ready'; value: T } | { status: 'failed'; error: ApiError | Error };

function failure(error: unknown): ApiError | Error {
  return error instanceof Error ? error : new Error(String(error));
}

/** What a confirmation asks, and what happens on "yes". */
interface Confirmation {
  readonly title: string;
  readonly body: string;
  readonly action: string;
  readonly onConfirm: () => void;
}

/**
 * Asks before an action that is hard to undo (disabling an account, granting admin): a modal
 * React Aria alert dialog; Cancel, Escape or a click outside does nothing.
 */
export function ConfirmDialog({
  confirmation,
  onClose,
}: {
  readonly confirmation: Confirmation | undefined;
  readonly onClose: () => void;
}) {
  return (
    <ModalOverlay
      className="modal-overlay"
      isOpen={confirmation !== undefined}
      isDismissable
      onOpenChange={(open) => {
        if (!open) onClose();
      }}
    >
      <Modal className="modal">
        <Dialog role="alertdialog" className="dialog">
          <Heading slot="title">{confirmation?.title}</Heading>
          <p>{confirmation?.body}</p>
          <div className="dialog-actions">
            <button type="button" className="button" onClick={onClose} autoFocus>
              Cancel
            </button>
            <button
              type="button"
              className="button"
              data-variant="danger"
              onClick={() => {
                confirmation?.onConfirm();
                onClose();
              }}
            >
              {confirmation?.action}
            </button>
          </div>
        </Dialog>
      </Modal>
    </ModalOverlay>
  );
}

/** Who may see an admin page: a 403/401 from the API becomes a plain explanation. */
function Refused({ error }: { readonly error: ApiError | Error }) {
  const forbidden = error instanceof ApiError && (error.status === 403 || error.status === 404);
  return (
    <section className="card narrow">
      <h1>{forbidden ? 'Not for your account' : 'Something went wrong'}</h1>
      <ErrorMessage>{forbidden ? 'Only administrators and approvers can open this page.' : error.message}</ErrorMessage>
    </section>
  );
}

function UserRow({
  user,
  roles,
  canDisable,
  onChanged,
  onError,
  confirm,
}: {
  readonly user: User;
  readonly roles: readonly ManageableRole[];
  readonly canDisable: boolean;
  readonly onChanged: (user: User, message: string) => void;
  readonly onError: (message: string) => void;
  readonly confirm: (confirmation: Confirmation) => void;
}) {
  const [busy, setBusy] = useState(false);
  const [role, setRole] = useState('');
  const manageable = new Set(roles.map((item) => item.name));
  const act = (path: string, body: unknown, message: string) => {
    setBusy(true);
    api('POST', `/api/auth/admin/users/${user.id}/${path}`, body, userAnswer)
      .then((answer) => onChanged(answer.user, message))
      .catch((error: unknown) => onError(failure(error).message))
      .finally(() => setBusy(false));
  };
  const held = new Set(user.roles.map((grant) => grant.role));
  return (
    <tr data-user={user.email} data-disabled={user.disabled || undefined}>
      <td data-label="User">
        <strong>
          {/* The user's own page (talk-time, purchases, grants) is for administrators. */}
          {canDisable ? (
            <a href={`/admin/users/${user.id}`}>{user.displayName ?? user.email}</a>
          ) : (
            (user.displayName ?? user.email)
          )}
        </strong>
        {user.displayName === null ? null : <div className="muted">{user.email}</div>}
        {user.emailVerified ? null : <div className="muted">email not confirmed</div>}
      </td>
      <td data-label="Roles">
        <ul className="role-list">
          {user.roles.map((grant) => (
            <li key={grant.role}>
              <span className="badge" data-state={grant.status === 'active' ? 'ok' : 'soon'}>
                {grant.role}
                {grant.status === 'pending' ? ' (pending)' : ''}
              </span>
              {grant.status === 'pending' && manageable.has(grant.role) ? (
                <button
                  type="button"
                  className="button"
                  data-variant="primary"
                  disabled={busy}
                  onClick={() => act('approve', { role: grant.role }, `Approved ${grant.role} for ${user.email}`)}
                >
                  Approve
                </button>
              ) : null}
              {manageable.has(grant.role) ? (
                <button
                  type="button"
                  className="link-button"
                  disabled={busy}
                  aria-label={`Remove ${grant.role} from ${user.email}`}
                  onClick={() => act('roles', { remove: [grant.role] }, `Removed ${grant.role} from ${user.email}`)}
                >
                  remove
                </button>
              ) : null}
            </li>
          ))}
        </ul>
        {roles.some((item) => !held.has(item.name)) ? (
          <form
            className="inline-form"
            onSubmit={(event) => {
              event.preventDefault();
              if (role === '') return;
              const grant = () => act('roles', { add: [role] }, `Granted ${role} to ${user.email}`);
              if (role === 'platform:admin') {
                confirm({
                  title: `Make ${user.email} an administrator?`,
                  body: 'They can then manage every user, disable accounts, grant talk-time and read the audit trail.',
                  action: 'Make administrator',
                  onConfirm: grant,
                });
              } else {
                grant();
              }
            }}
          >
            <label>
              <span className="visually-hidden">Role to grant {user.email}</span>
              <select value={role} onChange={(event) => setRole(event.target.value)} disabled={busy}>
                <option value="">Grant a role…</option>
                {roles
                  .filter((item) => !held.has(item.name))
                  .map((item) => (
                    <option key={item.name} value={item.name}>
                      {item.title} ({item.name})
                    </option>
                  ))}
              </select>
            </label>
            <button type="submit" className="button" disabled={busy || role === ''}>
              Grant
            </button>
          </form>
        ) : null}
      </td>
      <td data-label="Account">
        {user.disabled ? (
          <span className="badge" data-state="fail">
            disabled
          </span>
        ) : (
          'active'
        )}
      </td>
      {canDisable ? (
        <td data-label="Actions">
          <button
            type="button"
            className="button"
            disabled={busy}
            onClick={() =>
              user.disabled
                ? act('enable', undefined, `Enabled ${user.email}`)
                : confirm({
                    title: `Disable ${user.email}?`,
                    body: 'They are signed out everywhere and cannot sign in until an administrator enables the account again.',
                    action: 'Disable',
                    onConfirm: () => act('disable', undefined, `Disabled ${user.email}; every session is signed out`),
                  })
            }
          >
            {user.disabled ? 'Enable' : 'Disable'}
          </button>
        </td>
      ) : null}
    </tr>
  );
}

/** Users, for admins and approvers: approve pending roles, grant and remove roles, disable accounts. */
export function AdminUsersPage() {
  const [roles, setRoles] = useState<Load<Parsed<typeof manageableRolesAnswer>>>({ status: 'loading' });
  const [users, setUsers] = useState<Load<readonly User[]>>({ status: 'loading' });
  const [filter, setFilter] = useState<{ query: string; status: 'pending' | 'all' }>({ query: '', status: 'pending' });
  const [message, setMessage] = useState<{ kind: 'info' | 'error'; text: string } | undefined>(undefined);
  const [confirmation, setConfirmation] = useState<Confirmation | undefined>(undefined);

  const load = useCallback(() => {
    const params = new URLSearchParams({ status: filter.status });
    if (filter.query !== '') params.set('query', filter.query);
    api('GET', `/api/auth/admin/users?${params.toString()}`, undefined, usersAnswer)
      .then(({ users: list }) => setUsers({ status: 'ready', value: list }))
      .catch((error: unknown) => setUsers({ status: 'failed', error: failure(error) }));
  }, [filter]);

  useEffect(() => {
    api('GET', '/api/auth/admin/roles', undefined, manageableRolesAnswer)
      .then((value) => setRoles({ status: 'ready', value }))
      .catch((error: unknown) => setRoles({ status: 'failed', error: failure(error) }));
  }, []);
  useEffect(load, [load]);

  return (
    <RequireUser>
      {() => {
        if (roles.status === 'failed') return <Refused error={roles.error} />;
        if (roles.status === 'loading') return <p className="muted">Loading…</p>;
        const { canDisable } = roles.value;
        return (
          <section className="card" aria-labelledby="users-title">
            <h1 id="users-title">Users</h1>
            <form
              className="filters"
              role="search"
              onSubmit={(event) => {
                event.preventDefault();
                const form = new FormData(event.currentTarget);
                setFilter({
                  query: formText(form, 'query'),
                  status: form.get('status') === 'all' ? 'all' : 'pending',
                });
              }}
            >
              <label>
                Search
                <input name="query" type="search" defaultValue={filter.query} placeholder="email or name" />
              </label>
              <label>
                Show
                <select name="status" defaultValue={filter.status}>
                  <option value="pending">Awaiting approval</option>
                  <option value="all">Everyone</option>
                </select>
              </label>
              <button type="submit" className="button">
                Apply
              </button>
            </form>
            {message === undefined ? null : message.kind === 'error' ? (
              <ErrorMessage>{message.text}</ErrorMessage>
            ) : (
              <Notice>{message.text}</Notice>
            )}
            {users.status === 'loading' ? <p className="muted">Loading…</p> : null}
            {users.status === 'failed' ? <ErrorMessage>{users.error.message}</ErrorMessage> : null}
            {users.status === 'ready' && users.value.length === 0 ? (
              <p className="muted">
                {filter.status === 'pending' ? 'Nobody is waiting for approval.' : 'No users match.'}
              </p>
            ) : null}
            {users.status === 'ready' && users.value.length > 0 ? (
              <table className="data-table" data-collapse>
                <thead>
                  <tr>
                    <th scope="col">User</th>
                    <th scope="col">Roles</th>
                    <th scope="col">Account</th>
                    {canDisable ? <th scope="col">Actions</th> : null}
                  </tr>
                </thead>
                <tbody>
                  {users.value.map((user) => (
                    <UserRow
                      key={user.id}
                      user={user}
                      roles={roles.value.roles}
                      canDisable={canDisable}
                      onChanged={(changed, text) => {
                        setMessage({ kind: 'info', text });
                        setUsers({
                          status: 'ready',
                          value: users.value.map((item) => (item.id === changed.id ? changed : item)),
                        });
                      }}
                      onError={(text) => setMessage({ kind: 'error', text })}
                      confirm={setConfirmation}
                    />
                  ))}
                </tbody>
              </table>
            ) : null}
            <ConfirmDialog confirmation={confirmation} onClose={() => setConfirmation(undefined)} />
          </section>
        );
      }}
    </RequireUser>
  );
}

type AuditEvent = Parsed<typeof auditEvent>;

/** A recorded value for people: lists joined, nothing as "none", objects as `key value` pairs. */
function readable(value: unknown): string {
  if (value === null || value === undefined || value === '') return 'none';
  if (Array.isArray(value)) return value.length === 0 ? 'none' : value.map(readable).join(', ');
  if (typeof value === 'object') {
    return Object.entries(value as Record<string, unknown>)
      .map(([key, item]) => `${key} ${readable(item)}`)
      .join(', ');
  }
  return typeof value === 'string' ? value : (JSON.stringify(value) ?? '');
}

/** Which details a reader needs: the user they concern is named in the Target column already. */
const hiddenDetails = new Set(['userId', 'email']);

/**
 * An event's change in words: each field that changed as "role user → admin" (a field a list of
 * roles reads as the roles themselves), or else its details as "units 600 · reason goodwill".
 */
export function describeChange(event: Pick<AuditEvent, 'before' | 'after' | 'details'>): string {
  const object = (value: unknown) =>
    value !== null && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  const before = object(event.before);
  const after = object(event.after);
  if (before !== undefined || after !== undefined) {
    const keys = [...new Set([...Object.keys(before ?? {}), ...Object.keys(after ?? {})])];
    const changed = keys.filter((key) => JSON.stringify(before?.[key]) !== JSON.stringify(after?.[key]));
    return changed
      .map((key) => `${key.replace(/s$/, '')} ${readable(before?.[key])} → ${readable(after?.[key])}`)
      .join('; ');
  }
  if (event.before !== null && event.before !== undefined) {
    return `${readable(event.before)} → ${readable(event.after)}`;
  }
  const details = object(event.details);
  if (details === undefined)
    return event.details === null || event.details === undefined ? '' : readable(event.details);
  const parts: string[] = [];
  const { units, unit, app, meteredSeconds, ...rest } = details;
  // An amount in an app's unit reads as what it is: talk-time as a duration.
  if (typeof units === 'number' && typeof unit === 'string') {
    const amount = unit === 'seconds' ? formatDuration(units) : `${units} ${unit}`;
    parts.push(typeof app === 'string' ? `${amount} of ${app}` : amount);
  } else if (typeof app === 'string') {
    parts.push(`app ${app}`);
  }
  if (typeof meteredSeconds === 'number') parts.push(`length ${formatDuration(meteredSeconds)}`);
  for (const [key, value] of Object.entries(rest)) {
    if (!hiddenDetails.has(key)) parts.push(`${key} ${readable(value)}`);
  }
  return parts.join(' · ');
}

/** What an event concerns, for people: a user by name, other things by kind. */
function describeTarget(event: AuditEvent): string {
  const kind = event.targetType?.replace(/_/g, ' ') ?? '';
  if (event.targetName !== null)
    return event.targetType === 'user' ? event.targetName : `${kind} of ${event.targetName}`;
  return event.targetType === null ? '—' : kind;
}

/** The trail's filters as they stand in the address (`/admin/audit?action=payments.grant`). */
const auditFilterKeys = ['actor', 'action', 'from', 'to'] as const;

function filterFromUrl(): URLSearchParams {
  const current = new URLSearchParams(location.search);
  const kept = new URLSearchParams();
  for (const key of auditFilterKeys) {
    const value = current.get(key);
    if (value !== null && value !== '') kept.set(key, value);
  }
  return kept;
}

/** An instant the API takes, from a local day the date picker gives (the day's start or end). */
const dayBound = (day: string, end: boolean) => new Date(`${day}T${end ? '23:59:59.999' : '00:00:00'}`).toISOString();

/**
 * The audit trail, filtered by actor and action (dropdowns of what was recorded) and time, with a
 * CSV export of the same filter. The filter lives in the address, so a reload or a shared link
 * shows the same entries.
 */
export function AdminAuditPage() {
  const [search, setSearch] = useState(() => filterFromUrl().toString());
  const [events, setEvents] = useState<Load<readonly AuditEvent[]>>({ status: 'loading' });
  const [facets, setFacets] = useState<Parsed<typeof auditFacetsAnswer>>({ actions: [], actors: [] });
  const filter = new URLSearchParams(search);
  const apiSearch = new URLSearchParams(search);
  for (const key of ['from', 'to'] as const) {
    const day = apiSearch.get(key);
    if (day !== null) apiSearch.set(key, dayBound(day, key === 'to'));
  }
  const query = apiSearch.toString();

  useEffect(() => {
    const onPop = () => setSearch(filterFromUrl().toString());
    addEventListener('popstate', onPop);
    return () => removeEventListener('popstate', onPop);
  }, []);
  useEffect(() => {
    api('GET', '/api/audit/facets', undefined, auditFacetsAnswer)
      .then(setFacets)
      .catch(() => undefined);
  }, []);
  useEffect(() => {
    const params = new URLSearchParams(query);
    params.set('limit', '200');
    api('GET', `/api/audit?${params.toString()}`, undefined, auditAnswer)
      .then(({ events: list }) => setEvents({ status: 'ready', value: list }))
      .catch((error: unknown) => setEvents({ status: 'failed', error: failure(error) }));
  }, [query]);

  const apply = (next: URLSearchParams) => {
    const text = next.toString();
    history.pushState(history.state, '', `${location.pathname}${text === '' ? '' : `?${text}`}`);
    setSearch(text);
  };
  // A value in the address that the dropdown does not list (an old action) still shows as chosen.
  const withCurrent = (values: readonly string[], current: string | null) =>
    current === null || values.includes(current) ? values : [current, ...values];

  return (
    <RequireUser>
      {() => {
        if (events.status === 'failed' && events.error instanceof ApiError && events.error.status === 403) {
          return <Refused error={events.error} />;
        }
        return (
          <section className="card" aria-labelledby="audit-title">
            <h1 id="audit-title">Audit trail</h1>
            <form
              key={search}
              className="filters"
              role="search"
              onSubmit={(event) => {
                event.preventDefault();
                const form = new FormData(event.currentTarget);
                const next = new URLSearchParams();
                for (const key of auditFilterKeys) {
                  const value = formText(form, key).trim();
                  if (value !== '') next.set(key, value);
                }
                apply(next);
              }}
            >
              <label>
                Who
                <select name="actor" defaultValue={filter.get('actor') ?? ''}>
                  <option value="">Anyone</option>
                  {withCurrent(
                    facets.actors.map((actor) => actor.email),
                    filter.get('actor'),
                  ).map((email) => {
                    const name = facets.actors.find((actor) => actor.email === email)?.name;
                    return (
                      <option key={email} value={email}>
                        {name === null || name === undefined ? email : `${name} (${email})`}
                      </option>
                    );
                  })}
                </select>
              </label>
              <label>
                Action
                <select name="action" defaultValue={filter.get('action') ?? ''}>
                  <option value="">Any action</option>
                  {withCurrent(facets.actions, filter.get('action')).map((action) => (
                    <option key={action} value={action}>
                      {action}
                    </option>
                  ))}
                </select>
              </label>
              <label>
                From
                <input name="from" type="date" defaultValue={filter.get('from') ?? ''} />
              </label>
              <label>
                To
                <input name="to" type="date" defaultValue={filter.get('to') ?? ''} />
              </label>
              <button type="submit" className="button">
                Filter
              </button>
              {search === '' ? null : (
                <button type="button" className="link-button" onClick={() => apply(new URLSearchParams())}>
                  Clear filters
                </button>
              )}
              <a className="button" href={`/api/audit.csv${query === '' ? '' : `?${query}`}`} download>
                Export CSV
              </a>
            </form>
            {events.status === 'loading' ? <p className="muted">Loading…</p> : null}
            {events.status === 'failed' ? <ErrorMessage>{events.error.message}</ErrorMessage> : null}
            {events.status === 'ready' && events.value.length === 0 ? <p className="muted">No entries match.</p> : null}
            {events.status === 'ready' && events.value.length > 0 ? (
              <div className="table-scroll">
                <table className="data-table" data-testid="audit-table" data-collapse>
                  <thead>
                    <tr>
                      <th scope="col">When</th>
                      <th scope="col">Who</th>
                      <th scope="col">Action</th>
                      <th scope="col">Target</th>
                      <th scope="col">From</th>
                      <th scope="col">Change</th>
                    </tr>
                  </thead>
                  <tbody>
                    {events.value.map((event) => (
                      <tr key={event.id} data-action={event.action}>
                        <td data-label="When">
                          <time dateTime={event.at.toISOString()}>{formatDateTime(event.at)}</time>
                        </td>
                        <td data-label="Who">
                          {event.actorEmail === null ? (
                            <span className="muted">{event.actorId === null ? 'the system' : 'a removed user'}</span>
                          ) : (
                            <>
                              {event.actorName ?? event.actorEmail}
                              {event.actorName === null ? null : <div className="muted">{event.actorEmail}</div>}
                            </>
                          )}
                        </td>
                        <td data-label="Action">
                          <code>{event.action}</code>
                        </td>
                        <td data-label="Target">{describeTarget(event)}</td>
                        <td data-label="From" title={event.userAgent ?? undefined}>
                          {event.ip ?? '—'}
                        </td>
                        <td data-label="Change" className="change">
                          {describeChange(event)}
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            ) : null}
          </section>
        );
      }}
    </RequireUser>
  );
}

type AdminUserApp = Parsed<typeof adminUserApp>;
type Purchase = Parsed<typeof purchase>;

/** An order's state in words: an unpaid order past its checkout is not a pending charge. */
export function purchaseState(item: Pick<Purchase, 'status' | 'expired' | 'refundedUnits'>): string {
  if (item.expired) return 'checkout not completed';
  switch (item.status) {
    case 'created':
      return 'awaiting payment';
    case 'paid':
      return item.refundedUnits > 0 ? 'paid, partly refunded' : 'paid';
    case 'failed':
      return 'payment failed';
    case 'refunded':
      return 'refunded';
  }
}

function PurchasesTable({ purchases, unit }: { readonly purchases: readonly Purchase[]; readonly unit: string }) {
  if (purchases.length === 0) return <p className="muted">No purchases.</p>;
  return (
    <table className="data-table" data-collapse data-testid="admin-purchases">
      <thead>
        <tr>
          <th scope="col">Date</th>
          <th scope="col">Pack</th>
          <th scope="col">Price</th>
          <th scope="col">Status</th>
          <th scope="col">Payment reference</th>
        </tr>
      </thead>
      <tbody>
        {purchases.map((item) => (
          <tr key={item.id}>
            <td data-label="Date">{formatDate(item.createdAt)}</td>
            <td data-label="Pack">
              {item.packTitle} <span className="muted">({formatUnits(item.units, unit)})</span>
            </td>
            <td data-label="Price">{formatMoney(item.amountMinor, item.currency)}</td>
            <td data-label="Status">{purchaseState(item)}</td>
            <td data-label="Payment reference" className="muted">
              {item.paymentId ?? '—'}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function cellText(value: string | number | null, format: Parsed<typeof adminUserSection>['columns'][number]['format']) {
  if (value === null || value === '') return '—';
  if (format === 'duration' && typeof value === 'number') return formatDuration(value);
  if (format === 'datetime' && typeof value === 'string') return formatDateTime(new Date(value));
  return String(value);
}

function SectionTable({ section }: { readonly section: Parsed<typeof adminUserSection> }) {
  if (section.rows.length === 0) return <p className="muted">{section.empty}</p>;
  return (
    <table className="data-table" data-collapse>
      <thead>
        <tr>
          {section.columns.map((column) => (
            <th key={column.key} scope="col">
              {column.label}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {section.rows.map((row, index) => (
          <tr key={index}>
            {section.columns.map((column) => (
              <td key={column.key} data-label={column.label}>
                {cellText(row[column.key] ?? null, column.format)}
              </td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** The most minutes one grant gives (a week), as the API bounds it in seconds. */
const MAX_GRANT_MINUTES = 10_080;

/**
 * Free talk-time for one user in one app. The key is made once per intended grant: a double click
 * or a retry sends the same key, and the server credits once.
 */
function GrantForm({
  userId,
  email,
  app,
  onGranted,
}: {
  readonly userId: string;
  readonly email: string;
  readonly app: AdminUserApp;
  readonly onGranted: () => void;
}) {
  const [key, setKey] = useState(() => crypto.randomUUID());
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState<{ kind: 'info' | 'error'; text: string } | undefined>(undefined);
  const seconds = app.unit === 'seconds';
  const label = seconds ? 'Minutes' : `Amount (${app.unit})`;
  return (
    <form
      className="filters grant-form"
      aria-label={`Grant free ${seconds ? 'talk-time' : app.unit} in ${app.title}`}
      onSubmit={(event) => {
        event.preventDefault();
        const form = new FormData(event.currentTarget);
        const amount = Number(formText(form, 'amount'));
        const reason = formText(form, 'reason').trim();
        const units = seconds ? amount * 60 : amount;
        setBusy(true);
        setMessage(undefined);
        api('POST', `/api/payments/${app.app}/admin/users/${userId}/grants`, { units, reason, key }, grantAnswer)
          .then((answer) => {
            setMessage({
              kind: 'info',
              text: answer.applied
                ? `Granted ${formatUnits(answer.units, answer.unit)} to ${email}. Balance now ${formatUnits(answer.balance, answer.unit)}.`
                : `Already granted; balance ${formatUnits(answer.balance, answer.unit)}.`,
            });
            setKey(crypto.randomUUID());
            onGranted();
          })
          .catch((error: unknown) => setMessage({ kind: 'error', text: failure(error).message }))
          .finally(() => setBusy(false));
      }}
    >
      <label>
        {label}
        <input
          name="amount"
          type="number"
          inputMode="numeric"
          required
          min={1}
          max={seconds ? MAX_GRANT_MINUTES : undefined}
          step={1}
        />
      </label>
      <label>
        Reason
        <input name="reason" type="text" required minLength={3} maxLength={500} placeholder="e.g. call dropped" />
      </label>
      <button type="submit" className="button" data-variant="primary" disabled={busy} aria-busy={busy}>
        Grant free {seconds ? 'talk-time' : app.unit}
      </button>
      {message === undefined ? null : message.kind === 'error' ? (
        <ErrorMessage>{message.text}</ErrorMessage>
      ) : (
        <Notice>{message.text}</Notice>
      )}
    </form>
  );
}

/** The user id in `/admin/users/<id>`. */
const userIdFromPath = () => decodeURIComponent(location.pathname.split('/').filter(Boolean)[2] ?? '');

/**
 * One user, for platform admins: the account, and per app their balance, purchases and what the
 * app shows of them (the coach: calls); free talk-time is granted here, audited.
 */
export function AdminUserPage() {
  const [id] = useState(userIdFromPath);
  const [version, setVersion] = useState(0);
  const [view, setView] = useState<Load<Parsed<typeof adminUserAnswer>>>({ status: 'loading' });
  useEffect(() => {
    api('GET', `/api/payments/admin/users/${encodeURIComponent(id)}`, undefined, adminUserAnswer)
      .then((value) => setView({ status: 'ready', value }))
      .catch((error: unknown) => setView({ status: 'failed', error: failure(error) }));
  }, [id, version]);

  return (
    <RequireUser>
      {() => {
        if (view.status === 'loading') return <p className="muted">Loading…</p>;
        if (view.status === 'failed') {
          if (view.error instanceof ApiError && view.error.status === 404) {
            return (
              <section className="card narrow">
                <h1>No such user</h1>
                <a href="/admin/users">All users</a>
              </section>
            );
          }
          return <Refused error={view.error} />;
        }
        const { user, apps } = view.value;
        return (
          <div className="admin-user">
            <section className="card" aria-labelledby="user-title">
              <p>
                <a href="/admin/users">← All users</a>
              </p>
              <h1 id="user-title">{user.displayName ?? user.email}</h1>
              <dl className="facts">
                <dt>Email</dt>
                <dd>{user.email}</dd>
                <dt>Account</dt>
                <dd>
                  {user.disabled ? (
                    <span className="badge" data-state="fail">
                      disabled
                    </span>
                  ) : (
                    'active'
                  )}
                </dd>
                <dt>Joined</dt>
                <dd>{formatDate(user.createdAt)}</dd>
              </dl>
              <p>
                <a href={`/admin/audit?actor=${encodeURIComponent(user.email)}`}>What they did (audit trail)</a>
              </p>
            </section>
            {apps.length === 0 ? <p className="muted">No app sells anything on this server.</p> : null}
            {apps.map((app) => (
              <AppPart
                key={app.app}
                app={app}
                userId={user.id}
                email={user.email}
                onChanged={() => setVersion((v) => v + 1)}
              />
            ))}
          </div>
        );
      }}
    </RequireUser>
  );
}

function AppPart({
  app,
  userId,
  email,
  onChanged,
}: {
  readonly app: AdminUserApp;
  readonly userId: string;
  readonly email: string;
  readonly onChanged: () => void;
}): ReactNode {
  const titleId = `app-${app.app}-title`;
  return (
    <section className="card" aria-labelledby={titleId} data-app={app.app}>
      <h2 id={titleId}>{app.title}</h2>
      <dl className="facts">
        <dt>{app.unit === 'seconds' ? 'Talk-time' : 'Balance'}</dt>
        <dd data-testid={`balance-${app.app}`}>{formatUnits(app.balance, app.unit)}</dd>
      </dl>
      <GrantForm userId={userId} email={email} app={app} onGranted={onChanged} />
      <h3>Purchases</h3>
      <PurchasesTable purchases={app.purchases} unit={app.unit} />
      {app.sections.map((section) => (
        <div key={section.title}>
          <h3>{section.title}</h3>
          <SectionTable section={section} />
        </div>
      ))}
    </section>
  );
}
