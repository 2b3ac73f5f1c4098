import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Pure rules of the storage module (no I/O): what a stored name may look like, which content type
 * an upload is, how a download is labelled, and how local download links are signed.
 */

/** What an app allows for one kind of upload (`resume`, `attachment`, `audio-pack`). */
export interface UseRule {
  /** Largest file, in bytes; enforced while the upload streams. */
  readonly maxBytes: number;
  /** Content types accepted, as decided from the file's bytes (`application/pdf`, `image/png`, `text/plain`). */
  readonly types: readonly string[];
}

const windowsReserved = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])(\..*)?$/i;
const MAX_NAME_BYTES = 180;

/**
 * A file name safe to store and show: Unicode normalised (NFC), control and formatting characters
 * (right-to-left override, zero-width joiners, BOM) removed, path separators and characters Windows
 * refuses replaced, leading and trailing dots and spaces trimmed, reserved device names defused,
 * at most 180 UTF-8 bytes with the extension kept. Never empty.
 */
export function sanitizeFileName(name: string): string {
  let clean = name
    .normalize('NFC')
    .replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu, '')
    .replace(/[/\\:*?"<>|]/g, '_')
    .replace(/\s+/g, ' ')
    .replace(/^[\s.]+|[\s.]+$/g, '');
  if (windowsReserved.test(clean)) clean = `_${clean}`;
  if (Buffer.byteLength(clean) > MAX_NAME_BYTES) {
    const dot = clean.lastIndexOf('.');
    const extension = dot > 0 && clean.length - dot <= 12 ? clean.slice(dot) : '';
    let stem = clean.slice(0, clean.length - extension.length);
    while (Buffer.byteLength(stem + extension) > MAX_NAME_BYTES) stem = [...stem].slice(0, -1).join('');
    clean = stem.replace(/[\s.]+$/, '') + extension;
  }
  return clean.length === 0 || clean === '_' ? 'file' : clean;
}

/** The lower-case extension of a (sanitized) name without the dot, or '' when it has none. */
export function extensionOf(name: string): string {
  const dot = name.lastIndexOf('.');
  return dot <= 0 ? '' : name.slice(dot + 1).toLowerCase();
}

/** Extensions a content type may carry, beyond the one `file-type` reports. */
const extensionsByType: Readonly<Record<string, readonly string[]>> = {
  'application/pdf': ['pdf'],
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document': ['docx'],
  'image/jpeg': ['jpg', 'jpeg', 'jpe'],
  'image/png': ['png'],
  'image/webp': ['webp'],
  'image/gif': ['gif'],
  'audio/mpeg': ['mp3'],
  'audio/mp4': ['m4a', 'mp4'],
  'audio/x-m4a': ['m4a'],
  'audio/ogg': ['ogg', 'oga', 'opus'],
  'audio/opus': ['opus', 'ogg'],
  'audio/wav': ['wav'],
  'audio/x-wav': ['wav'],
  'audio/flac': ['flac'],
  'audio/x-flac': ['flac'],
  'application/zip': ['zip'],
  'text/plain': ['txt', 'text', 'log'],
  'text/markdown': ['md', 'markdown'],
  'text/csv': ['csv'],
};

/** The extensions a content type may carry (empty for types this module does not know). */
export function extensionsFor(type: string): readonly string[] {
  return extensionsByType[type] ?? [];
}

/** Types never accepted from users: a browser could run them (HTML, SVG with scripts, XML stylesheets). */
const activeTypes = new Set([
  'text/html',
  'application/xhtml+xml',
  'image/svg+xml',
  'text/xml',
  'application/xml',
  'application/javascript',
  'text/javascript',
]);

/** Whether a download of this type must never be served as itself (it would run in the browser). */
export function isActiveContent(type: string): boolean {
  return activeTypes.has(type.split(';')[0]!.trim().toLowerCase());
}

/** Text types a plain-text upload may be, by extension (no magic bytes: decided by the content being UTF-8 text). */
const textTypesByExtension: Readonly<Record<string, string>> = {
  txt: 'text/plain',
  text: 'text/plain',
  log: 'text/plain',
  md: 'text/markdown',
  markdown: 'text/markdown',
  csv: 'text/csv',
};

/** Whether the first bytes of a file read as UTF-8 text (no NUL, no invalid sequences except a cut at the end). */
export function looksLikeText(head: Uint8Array): boolean {
  if (head.includes(0)) return false;
  // A multi-byte character cut by the head's end is not an error: drop up to 3 trailing bytes.
  for (let cut = 0; cut <= Math.min(3, head.length); cut += 1) {
    try {
      new TextDecoder('utf-8', { fatal: true }).decode(head.subarray(0, head.length - cut));
      return true;
    } catch {
      // try a shorter prefix
    }
  }
  return false;
}

/** The outcome of checking an upload's type: its content type, or why it is refused. */
export type TypeDecision =
  | { readonly ok: true; readonly type: string }
  | {
      readonly ok: false;
      readonly code: 'storage.type_not_allowed' | 'storage.type_mismatch' | 'storage.type_unknown';
      readonly message: string;
    };

/**
 * Decides an upload's content type from its bytes (`detected`: what `file-type` found in the head,
 * if anything), then checks it against the use's allow-list and the name's extension. A file whose
 * bytes say PDF but is named `.docx` is refused as lying, as is one whose bytes are unrecognised
 * binary. Plain text is recognised by being UTF-8 and by its extension.
 */
export function decideType(
  detected: { readonly mime: string; readonly ext: string } | undefined,
  name: string,
  head: Uint8Array,
  rule: UseRule,
): TypeDecision {
  const extension = extensionOf(name);
  let type: string;
  if (detected === undefined) {
    const textType = textTypesByExtension[extension];
    if (textType === undefined || !looksLikeText(head)) {
      return {
        ok: false,
        code: 'storage.type_unknown',
        message: `The content of ${name} is not a file type this upload accepts (${rule.types.join(', ')})`,
      };
    }
    type = textType;
  } else {
    type = detected.mime;
    const allowedExtensions = new Set([detected.ext, ...(extensionsByType[type] ?? [])]);
    if (!allowedExtensions.has(extension)) {
      return {
        ok: false,
        code: 'storage.type_mismatch',
        message: `${name} is named .${extension || '(none)'} but its content is ${type} (.${detected.ext})`,
      };
    }
  }
  if (isActiveContent(type) || !rule.types.includes(type)) {
    return {
      ok: false,
      code: 'storage.type_not_allowed',
      message: `${type} is not accepted here; accepted: ${rule.types.join(', ')}`,
    };
  }
  return { ok: true, type };
}

/**
 * A `Content-Disposition: attachment` header naming the file: an ASCII fallback and the UTF-8 name
 * (RFC 6266 / RFC 8187), so no name can break out of the header or make the browser render it.
 */
export function attachmentDisposition(name: string): string {
  const fallback = name.replace(/[^\x20-\x7e]/g, '_').replace(/["\\%]/g, '_');
  const encoded = encodeURIComponent(name).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${fallback}"; filename*=UTF-8''${encoded}`;
}

/** The content type a download is served with: the stored one, except active content as octet-stream. */
export function servedType(type: string): string {
  return isActiveContent(type) ? 'application/octet-stream' : type;
}

/** The key local download links are signed with, derived from the signing secret for this purpose only. */
export function linkKey(signingSecret: string): Buffer {
  return createHmac('sha256', signingSecret).update('ballast.storage.download-link.v1').digest();
}

/** Signs a local download link for `fileId`, valid until `expires` (epoch seconds). */
export function signLink(key: Buffer, fileId: string, expires: number): string {
  return createHmac('sha256', key).update(`${fileId}.${expires}`).digest('base64url');
}

/** Why a local download link is refused, or 'valid'. */
export type LinkCheck = 'valid' | 'expired' | 'bad_signature';

/** Checks a local download link's signature (constant time) and expiry against `now` (epoch seconds). */
export function checkLink(key: Buffer, fileId: string, expires: number, signature: string, now: number): LinkCheck {
  const expected = Buffer.from(signLink(key, fileId, expires));
  const given = Buffer.from(signature);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'bad_signature';
  return expires < now ? 'expired' : 'valid';
}
