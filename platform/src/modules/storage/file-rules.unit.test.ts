import { describe, expect, it } from 'vitest';
import {
  attachmentDisposition,
  checkLink,
  decideType,
  linkKey,
  looksLikeText,
  sanitizeFileName,
  servedType,
  signLink,
} from './file-rules.ts';

describe('sanitizeFileName', () => {
  it.each([
    ['report.pdf', 'report.pdf'],
    ['../../etc/passwd', '_.._etc_passwd'],
    ['..\\..\\windows\\system32', '_.._windows_system32'],
    ['invoice\u202Efdp.exe', 'invoicefdp.exe'],
    ['zero\u200Bwidth\uFEFF.txt', 'zerowidth.txt'],
    ['bell\u0007\u001b[31m.txt', 'bell[31m.txt'],
    ['CON', '_CON'],
    ['lpt1.txt', '_lpt1.txt'],
    ['console.txt', 'console.txt'],
    ['  .hidden. ', 'hidden'],
    ['a<b>c:d"e|f?g*h.txt', 'a_b_c_d_e_f_g_h.txt'],
    ['', 'file'],
    ['...', 'file'],
    ['/', 'file'],
    ['Cafe\u0301.md', 'Café.md'],
  ])('%j becomes %j', (given, expected) => {
    expect(sanitizeFileName(given)).toBe(expected);
  });

  it('keeps the extension when it shortens a long name to 180 bytes', () => {
    const name = sanitizeFileName(`${'é'.repeat(200)}.pdf`);
    expect(Buffer.byteLength(name)).toBeLessThanOrEqual(180);
    expect(name.endsWith('.pdf')).toBe(true);
  });
});

describe('decideType', () => {
  const rule = { maxBytes: 1000, types: ['application/pdf', 'text/plain', 'image/jpeg'] };
  const text = new TextEncoder().encode('hello, wörld');
  const pdf = { mime: 'application/pdf', ext: 'pdf' };

  it.each([
    ['a PDF named .pdf', pdf, 'cv.pdf', text, { ok: true, type: 'application/pdf' }],
    ['a PDF named .PDF', pdf, 'cv.PDF', text, { ok: true, type: 'application/pdf' }],
    ['a JPEG named .jpeg', { mime: 'image/jpeg', ext: 'jpg' }, 'me.jpeg', text, { ok: true, type: 'image/jpeg' }],
    ['a PDF named .docx', pdf, 'cv.docx', text, { ok: false, code: 'storage.type_mismatch' }],
    ['a PDF without extension', pdf, 'cv', text, { ok: false, code: 'storage.type_mismatch' }],
    [
      'a PNG named .png',
      { mime: 'image/png', ext: 'png' },
      'a.png',
      text,
      { ok: false, code: 'storage.type_not_allowed' },
    ],
    ['UTF-8 text named .txt', undefined, 'a.txt', text, { ok: true, type: 'text/plain' }],
    ['text named .md, not allowed', undefined, 'a.md', text, { ok: false, code: 'storage.type_not_allowed' }],
    ['text named .html', undefined, 'a.html', text, { ok: false, code: 'storage.type_unknown' }],
    ['binary named .txt', undefined, 'a.txt', new Uint8Array([1, 0, 2]), { ok: false, code: 'storage.type_unknown' }],
  ] as const)('%s', (_label, detected, name, head, expected) => {
    expect(decideType(detected, name, head, rule)).toMatchObject(expected);
  });

  it('never accepts SVG or HTML even when a use lists them', () => {
    const lax = { maxBytes: 1000, types: ['image/svg+xml'] };
    expect(decideType({ mime: 'image/svg+xml', ext: 'svg' }, 'a.svg', text, lax)).toMatchObject({ ok: false });
  });
});

describe('looksLikeText', () => {
  it('accepts UTF-8 cut inside a character and refuses NUL and invalid bytes', () => {
    const euro = new TextEncoder().encode('price: €');
    expect(looksLikeText(euro.subarray(0, euro.length - 1))).toBe(true);
    expect(looksLikeText(new Uint8Array([0x61, 0x00]))).toBe(false);
    expect(looksLikeText(new Uint8Array([0xff, 0xfe, 0x41, 0x42, 0x43, 0x44]))).toBe(false);
  });
});

describe('downloads', () => {
  it('labels every download an attachment with an ASCII fallback and the UTF-8 name', () => {
    expect(attachmentDisposition('Résumé "final".pdf')).toBe(
      `attachment; filename="R_sum_ _final_.pdf"; filename*=UTF-8''R%C3%A9sum%C3%A9%20%22final%22.pdf`,
    );
  });

  it('serves active content as octet-stream', () => {
    expect(servedType('text/html')).toBe('application/octet-stream');
    expect(servedType('image/svg+xml')).toBe('application/octet-stream');
    expect(servedType('application/pdf')).toBe('application/pdf');
  });

  it('accepts a link only with its own signature and before it expires', () => {
    const key = linkKey('a signing secret of at least thirty-two bytes');
    const signature = signLink(key, 'file-1', 1000);
    expect(checkLink(key, 'file-1', 1000, signature, 999)).toBe('valid');
    expect(checkLink(key, 'file-1', 1000, signature, 1001)).toBe('expired');
    expect(checkLink(key, 'file-2', 1000, signature, 999)).toBe('bad_signature');
    expect(checkLink(key, 'file-1', 2000, signature, 999)).toBe('bad_signature');
    expect(checkLink(linkKey('another secret, also thirty-two bytes long'), 'file-1', 1000, signature, 999)).toBe(
      'bad_signature',
    );
    expect(checkLink(key, 'file-1', 1000, 'short', 999)).toBe('bad_signature');
  });
});
