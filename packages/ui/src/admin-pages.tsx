import type { Parsed } from '@ballast/contracts';
import { auditAnswer, type auditEvent } from '@ballast/contracts/audit';
import { manageableRolesAnswer, userAnswer, usersAnswer, type manageableRole } from '@ballast/contracts/auth';
import { useCallback, useEffect, useState } from 'react';
import { api, ApiError } from './api.ts';
import { ErrorMessage, formText, Notice } from './form.tsx';
import { RequireUser } from './layout.tsx';
import type { User } from './session.tsx';
import { formatDateTime } from './format.ts';

type ManageableRole = Parsed<typeof manageableRole>;

type Load<T> = { status: 'loading' } | { status: 'ready'; value: T } | { status: 'failed'; error: ApiError | Error };

function failure(error: unknown): ApiError | Error {
  return error instanceof Error ? error : new Error(String(error));
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
}: {
  readonly user: User;
  readonly roles: readonly ManageableRole[];
  readonly canDisable: boolean;
  readonly onChanged: (user: User, message: string) => void;
  readonly onError: (message: string) => void;
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
        <strong>{user.displayName ?? user.email}</strong>
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
              if (role !== '') act('roles', { add: [role] }, `Granted ${role} to ${user.email}`);
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
                : act('disable', undefined, `Disabled ${user.email}; every session is signed out`)
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
                    />
                  ))}
                </tbody>
              </table>
            ) : null}
          </section>
        );
      }}
    </RequireUser>
  );
}

type AuditEvent = Parsed<typeof auditEvent>;

function compact(value: unknown): string {
  if (value === null || value === undefined) return '';
  return JSON.stringify(value);
}

/** The audit trail, filtered by actor, action and time, with a CSV export of the same filter. */
export function AdminAuditPage() {
  const [filter, setFilter] = useState<Record<string, string>>({});
  const [events, setEvents] = useState<Load<readonly AuditEvent[]>>({ status: 'loading' });
  const params = new URLSearchParams(Object.entries(filter).filter(([, value]) => value !== ''));
  const search = params.toString();

  useEffect(() => {
    const query = new URLSearchParams(search);
    query.set('limit', '200');
    api('GET', `/api/audit?${query.toString()}`, undefined, auditAnswer)
      .then(({ events: list }) => setEvents({ status: 'ready', value: list }))
      .catch((error: unknown) => setEvents({ status: 'failed', error: failure(error) }));
  }, [search]);

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
              className="filters"
              role="search"
              onSubmit={(event) => {
                event.preventDefault();
                const form = new FormData(event.currentTarget);
                const next: Record<string, string> = {};
                for (const key of ['actor', 'action', 'from', 'to']) {
                  const value = formText(form, key).trim();
                  if (value === '') continue;
                  // Dates from the picker are local days; the API takes instants.
                  next[key] =
                    key === 'from' || key === 'to'
                      ? new Date(`${value}T${key === 'from' ? '00:00:00' : '23:59:59.999'}`).toISOString()
                      : value;
                }
                setFilter(next);
              }}
            >
              <label>
                Who
                <input name="actor" type="search" placeholder="email" />
              </label>
              <label>
                Action
                <input name="action" type="search" placeholder="auth.sign_in" />
              </label>
              <label>
                From
                <input name="from" type="date" />
              </label>
              <label>
                To
                <input name="to" type="date" />
              </label>
              <button type="submit" className="button">
                Filter
              </button>
              <a className="button" href={`/api/audit.csv${search === '' ? '' : `?${search}`}`} download>
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
                      <tr key={event.id}>
                        <td data-label="When">
                          <time dateTime={event.at.toISOString()}>{formatDateTime(event.at)}</time>
                        </td>
                        <td data-label="Who">{event.actorEmail ?? event.actorId ?? '—'}</td>
                        <td data-label="Action">
                          <code>{event.action}</code>
                        </td>
                        <td data-label="Target">
                          {event.targetType === null ? '—' : `${event.targetType} ${event.targetId ?? ''}`}
                        </td>
                        <td data-label="From" title={event.userAgent ?? undefined}>
                          {event.ip ?? '—'}
                        </td>
                        <td data-label="Change" className="change">
                          {event.before === null && event.after === null ? (
                            compact(event.details)
                          ) : (
                            <>
                              {compact(event.before)} → {compact(event.after)}
                            </>
                          )}
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
