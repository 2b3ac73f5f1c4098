/** HTML that has already been escaped or is trusted markup. */
export class SafeHtml {
  readonly value: string;
  constructor(value: string) {
    this.value = value;
  }
  toString(): string {
    return this.value;
  }
}

const entities: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for HTML content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => entities[char] ?? char);
}

const utcFormat = new Intl.DateTimeFormat('en-GB', {
  timeZone: 'UTC',
  day: 'numeric',
  month: 'short',
  year: 'numeric',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hourCycle: 'h23',
});

/**
 * An instant as a `<time>` element people can read: "3 Dec 2026, 14:05:09 UTC", the zone named,
 * with the exact ISO instant in its `datetime` attribute (and tooltip).
 */
export function timeOf(instant: Date): SafeHtml {
  const iso = instant.toISOString();
  return html`<time datetime="${iso}" title="${iso}">${utcFormat.format(instant)} UTC</time>`;
}

type Interpolation = string | number | SafeHtml | readonly Interpolation[] | null | undefined | false;

function render(value: Interpolation): string {
  if (value === null || value === undefined || value === false) return '';
  if (value instanceof SafeHtml) return value.value;
  if (Array.isArray(value)) return (value as readonly Interpolation[]).map(render).join('');
  return escapeHtml(String(value));
}

/** Tagged template for server-rendered pages: every interpolation is escaped unless it is `SafeHtml`. */
export function html(strings: TemplateStringsArray, ...values: Interpolation[]): SafeHtml {
  let out = strings[0] ?? '';
  values.forEach((value, index) => {
    out += render(value) + (strings[index + 1] ?? '');
  });
  return new SafeHtml(out);
}

/**
 * What every page's frame needs besides its content: the shared stylesheet from the web build,
 * who is signed in (so the header is current on every load) and which operator pages exist.
 */
export interface PageChrome {
  /** Addresses of the one stylesheet (packages/ui) in the web build; empty when it is not built. */
  readonly styles: readonly string[];
  /** The signed-in user, or null. */
  readonly user: { readonly email: string; readonly roles: readonly string[] } | null;
  /** The address being shown, to mark the current link. */
  readonly path: string;
  /** The development inbox exists (never in production). */
  readonly devInbox: boolean;
  /** The API docs are served at /docs. */
  readonly apiDocs: boolean;
}

/** The platform administrator's role, who sees the operator navigation. */
export const ADMIN_ROLE = 'platform:admin';

export interface PageOptions {
  readonly title: string;
  readonly body: SafeHtml;
  readonly chrome: PageChrome;
  /** Below the content, outside <main>. */
  readonly footer?: SafeHtml;
  readonly scripts?: readonly string[];
  readonly lang?: string;
}

function navLink(chrome: PageChrome, href: string, label: string): SafeHtml {
  return html`<a href="${href}" ${chrome.path === href ? new SafeHtml('aria-current="page"') : ''}>${label}</a>`;
}

/**
 * The header every page shares, server-rendered or React (packages/ui renders the same markup):
 * skip link, brand, the operator links for an administrator, and who is signed in.
 */
export function header(chrome: PageChrome): SafeHtml {
  const admin = chrome.user?.roles.includes(ADMIN_ROLE) === true;
  return html`<a class="skip-link" href="#main">Skip to content</a>
    <header class="topbar">
      <a class="brand" href="/"><span class="brand-mark" aria-hidden="true"></span>Ballast</a>
      <nav aria-label="Main">
        ${
          admin
            ? html`<div class="nav-group nav-admin" role="group" aria-label="Operations">
                ${navLink(chrome, '/admin/users', 'Users')} ${navLink(chrome, '/admin/audit', 'Audit')}
                ${navLink(chrome, '/admin/tasks', 'Tasks')}
                ${chrome.devInbox ? navLink(chrome, '/dev/inbox', 'Inbox') : ''}
                ${chrome.apiDocs ? navLink(chrome, '/docs', 'API docs') : ''}
              </div>`
            : ''
        }
        <div class="nav-group">
          ${
            chrome.user === null
              ? html`<a href="/sign-in?next=${encodeURIComponent(chrome.path)}">Sign in</a>`
              : html`<a
                    class="account-link"
                    href="/account"
                    ${chrome.path === '/account' ? new SafeHtml('aria-current="page"') : ''}
                    >${chrome.user.email}</a
                  >
                  <button type="button" class="link-button" data-sign-out hidden>Sign out</button>`
          }
        </div>
      </nav>
    </header>`;
}

/** Shows and runs the header's "Sign out" button (an external script: the CSP allows no inline one). */
export const SIGN_OUT_SCRIPT = '/assets/sign-out.js';

/** A whole page in Ballast's shell: the shared stylesheet, header, content. Scripts are external (CSP). */
export function page(options: PageOptions): string {
  return `<!doctype html>${
    html`<html lang="${options.lang ?? 'en'}" dir="ltr">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>${options.title}</title>
        ${options.chrome.styles.map((href) => html`<link rel="stylesheet" href="${href}" />`)}
        <link rel="icon" href="/assets/favicon.svg" type="image/svg+xml" />
        ${[...(options.chrome.user === null ? [] : [SIGN_OUT_SCRIPT]), ...(options.scripts ?? [])].map(
          (src) => html`<script type="module" src="${src}"></script>`,
        )}
      </head>
      <body>
        ${header(options.chrome)}
        <main id="main" tabindex="-1">${options.body}</main>
        ${options.footer ?? ''}
      </body>
    </html>`.value
  }\n`;
}
