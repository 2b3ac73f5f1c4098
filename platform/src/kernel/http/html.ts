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

export interface PageOptions {
  readonly title: string;
  readonly body: SafeHtml;
  readonly scripts?: readonly string[];
  readonly lang?: string;
}

/** A whole page in Ballast's shell: stylesheet, header, content. Scripts are external (CSP). */
export function page(options: PageOptions): string {
  return `<!doctype html>${
    html`<html lang="${options.lang ?? 'en'}">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>${options.title}</title>
        <link rel="stylesheet" href="/assets/ballast.css" />
        <link rel="icon" href="/assets/favicon.svg" type="image/svg+xml" />
        ${(options.scripts ?? []).map((src) => html`<script type="module" src="${src}"></script>`)}
      </head>
      <body>
        <header class="topbar">
          <a class="brand" href="/"><span class="brand-mark" aria-hidden="true"></span>Ballast</a>
          <nav><a href="/docs">API docs</a><a href="/readyz">Health</a><a href="/account">Account</a></nav>
        </header>
        <main>${options.body}</main>
      </body>
    </html>`.value
  }\n`;
}
