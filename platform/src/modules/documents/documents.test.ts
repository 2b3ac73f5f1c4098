import { crc32, deflateRawSync } from 'node:zlib';
import JSZip from 'jszip';
import { PDFDocument, StandardFonts } from 'pdf-lib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineApp } from '#platform/kernel/lifecycle/define-app.ts';
import { startTestBallast, type TestBallast } from '#platform/testing/ballast.ts';
import { createTestUser, type TestUser } from '#platform/testing/users.ts';
import { waitFor } from '#platform/testing/wait-for.ts';
import type { ParsedDocument } from './documents.service.ts';

const DOCX = 'application/vnd.openxmlformats-officedocument.wordprocessingml.document';

const deskApp = defineApp({
  name: 'desk',
  title: 'Desk',
  summary: 'Documents under test.',
  status: 'available',
  storage: {
    uses: {
      document: { maxBytes: 4 * 1024 * 1024, types: ['application/pdf', DOCX, 'text/plain', 'text/markdown'] },
    },
  },
});

let server: TestBallast;
let owner: TestUser;
let other: TestUser;
/** The bombs take seconds of CPU to make: made before Ballast starts, so its load shedding never sees that lag. */
const bombs = {} as { honestDocx: Buffer; lyingDocx: Buffer; pdf: Buffer };

beforeAll(async () => {
  bombs.honestDocx = docxBomb(false);
  bombs.lyingDocx = docxBomb(true);
  bombs.pdf = explodingPdf();
  server = await startTestBallast({
    apps: [deskApp],
    roles: ['web', 'worker'],
    env: { DOCUMENTS_TIMEOUT_SECONDS: '10', DOCUMENTS_MEMORY_MB: '96', DOCUMENTS_MAX_MB: '4' },
  });
  owner = await createTestUser(server.ballast, 'owner@example.com');
  other = await createTestUser(server.ballast, 'other@example.com');
}, 60_000);

afterAll(async () => {
  await server.close();
});

// --- real files, made here ---------------------------------------------------------------------

async function textPdf(lines: readonly string[]): Promise<Buffer> {
  const pdf = await PDFDocument.create();
  const font = await pdf.embedFont(StandardFonts.Helvetica);
  const page = pdf.addPage([595, 842]);
  lines.forEach((line, index) => page.drawText(line, { x: 50, y: 780 - index * 20, size: 12, font }));
  return Buffer.from(await pdf.save());
}

const onePixelPng = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==',
  'base64',
);

/** A "scanned" PDF: one page that is a picture, no text. */
async function imageOnlyPdf(): Promise<Buffer> {
  const pdf = await PDFDocument.create();
  const image = await pdf.embedPng(onePixelPng);
  pdf.addPage([595, 842]).drawImage(image, { x: 0, y: 0, width: 595, height: 842 });
  return Buffer.from(await pdf.save());
}

/** A PDF assembled object by object (for what pdf-lib will not write: encryption, bombs). */
function rawPdf(objects: readonly (string | Buffer)[], trailer = ''): Buffer {
  const parts: Buffer[] = [Buffer.from('%PDF-1.7\n%\xe2\xe3\xcf\xd3\n', 'latin1')];
  const offsets: number[] = [];
  let length = parts[0]!.length;
  objects.forEach((object, index) => {
    offsets.push(length);
    const body = Buffer.concat([
      Buffer.from(`${index + 1} 0 obj\n`, 'latin1'),
      Buffer.isBuffer(object) ? object : Buffer.from(object, 'latin1'),
      Buffer.from('\nendobj\n', 'latin1'),
    ]);
    parts.push(body);
    length += body.length;
  });
  const xref = [
    'xref',
    `0 ${objects.length + 1}`,
    '0000000000 65535 f ',
    ...offsets.map((offset) => `${String(offset).padStart(10, '0')} 00000 n `),
    'trailer',
    `<< /Size ${objects.length + 1} /Root 1 0 R ${trailer} >>`,
    'startxref',
    String(length),
    '%%EOF',
    '',
  ].join('\n');
  return Buffer.concat([...parts, Buffer.from(xref, 'latin1')]);
}

const pageObjects = (contents: string) => [
  '<< /Type /Catalog /Pages 2 0 R >>',
  '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
  `<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents ${contents} /Resources << /Font << /F1 5 0 R >> >> >>`,
];

/** A PDF encrypted with the standard handler under a password nobody here knows. */
function encryptedPdf(): Buffer {
  const hex = (seed: number) =>
    Array.from({ length: 32 }, (_, i) => ((i * 37 + seed) % 256).toString(16).padStart(2, '0')).join('');
  return rawPdf(
    [
      ...pageObjects('4 0 R'),
      '<< /Length 44 >>\nstream\nBT /F1 12 Tf 50 780 Td (secret text) Tj ET\nendstream',
      '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>',
      `<< /Filter /Standard /V 2 /R 3 /Length 128 /P -1028 /O <${hex(1)}> /U <${hex(2)}> >>`,
    ],
    `/Encrypt 6 0 R /ID [<${hex(3).slice(0, 32)}> <${hex(3).slice(0, 32)}>]`,
  );
}

/**
 * A PDF that explodes when read: its page's content stream is 1.2 MB of deflate that inflates to
 * 400 MB of drawing operators, each of which a parser must evaluate.
 */
function explodingPdf(): Buffer {
  const operators = Buffer.alloc(400 * 1024 * 1024, '1 0 0 1 0 0 cm q Q\n');
  const stream = deflateRawSync(operators, { level: 9 });
  // zlib framing: a header, the raw deflate, and an Adler-32 the reader never gets to.
  const zlibStream = Buffer.concat([Buffer.from([0x78, 0xda]), stream, Buffer.alloc(4)]);
  return rawPdf([
    ...pageObjects('4 0 R'),
    Buffer.concat([
      Buffer.from(`<< /Length ${zlibStream.length} /Filter /FlateDecode >>\nstream\n`, 'latin1'),
      zlibStream,
      Buffer.from('\nendstream', 'latin1'),
    ]),
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>',
  ]);
}

async function docx(paragraphs: readonly string[]): Promise<Buffer> {
  const zip = new JSZip();
  zip.file(
    '[Content_Types].xml',
    '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>',
  );
  zip.file(
    '_rels/.rels',
    '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>',
  );
  zip.file(
    'word/document.xml',
    `<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>${paragraphs
      .map((text) => `<w:p><w:r><w:t>${text}</w:t></w:r></w:p>`)
      .join('')}</w:body></w:document>`,
  );
  return zip.generateAsync({ type: 'nodebuffer', compression: 'DEFLATE' });
}

/** A zip written by hand, so its entries may declare sizes that lie. */
function zip(entries: readonly { name: string; content: Buffer; declaredSize?: number }[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const entry of entries) {
    const name = Buffer.from(entry.name);
    const data = deflateRawSync(entry.content, { level: 9 });
    const size = entry.declaredSize ?? entry.content.length;
    const crc = crc32(entry.content);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(8, 8);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(size, 22);
    local.writeUInt16LE(name.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(8, 10);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(size, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, data);
    centrals.push(central, name);
    offset += local.length + name.length + data.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}

/** A zip bomb named .docx: a document.xml of 300 MB of spaces (300 KB compressed). */
function docxBomb(lyingSizes: boolean): Buffer {
  const huge = Buffer.alloc(300 * 1024 * 1024, 0x20);
  return zip([
    {
      name: '[Content_Types].xml',
      content: Buffer.from(
        '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>',
      ),
    },
    { name: 'word/document.xml', content: huge, ...(lyingSizes ? { declaredSize: 1000 } : {}) },
  ]);
}

// --- helpers -------------------------------------------------------------------------------------

async function upload(name: string, body: Buffer): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${server.url}/api/storage/desk/uploads/document?name=${encodeURIComponent(name)}`, {
    method: 'POST',
    headers: { ...owner.headers, 'content-type': 'application/octet-stream' },
    body,
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

const final = new Set(['ready', 'no_text', 'failed', 'manual']);

async function parse(name: string, body: Buffer): Promise<ParsedDocument> {
  const uploaded = await upload(name, body);
  expect(uploaded.status).toBe(201);
  const fileId = (uploaded.body['file'] as { id: string }).id;
  const requested = await fetch(`${server.url}/api/documents/desk`, {
    method: 'POST',
    headers: { ...owner.headers, 'content-type': 'application/json' },
    body: JSON.stringify({ fileId }),
  });
  expect(requested.status).toBe(202);
  const { document } = (await requested.json()) as { document: ParsedDocument };
  expect(document).toMatchObject({ state: 'queued', progress: 0 });
  return waitFor(
    async () => {
      const response = await fetch(`${server.url}/api/documents/desk/${document.id}`, { headers: owner.headers });
      return ((await response.json()) as { document: ParsedDocument }).document;
    },
    (current) => final.has(current.state),
    60_000,
  );
}

describe('documents', () => {
  it('reads the text of a normal PDF', async () => {
    const document = await parse('cv.pdf', await textPdf(['Ballast parses this résumé', 'Second line']));
    expect(document).toMatchObject({ state: 'ready', progress: 100, pages: 1, reason: null });
    expect(document.text).toContain('Ballast parses this résumé');
    expect(document.text).toContain('Second line');
  });

  it('says "no text found" for a scanned, image-only PDF', async () => {
    const document = await parse('scan.pdf', await imageOnlyPdf());
    expect(document).toMatchObject({ state: 'no_text', text: null, pages: 1 });
    expect(document.message).toMatch(/^No text found/);
  });

  it('reads the text of a DOCX, and of plain text and Markdown', async () => {
    const word = await parse('letter.docx', await docx(['Dear committee,', 'I apply.']));
    expect(word.state).toBe('ready');
    expect(word.text).toMatch(/Dear committee,\s+I apply\./);
    const markdown = await parse('notes.md', Buffer.from('# Notes\n\nPlain *Markdown* text.\n'));
    expect(markdown).toMatchObject({ state: 'ready', text: '# Notes\n\nPlain *Markdown* text.' });
  });

  it('marks an encrypted PDF as protected by a password', async () => {
    const document = await parse('locked.pdf', encryptedPdf());
    expect(document).toMatchObject({ state: 'failed', reason: 'encrypted', text: null });
    expect(document.message).toBe(
      'Could not read this file: it is protected by a password. Type or paste its content instead',
    );
  });

  it('marks a truncated file as unreadable', async () => {
    const whole = await docx(['This document is cut in half.']);
    const document = await parse('cut.docx', whole.subarray(0, Math.floor(whole.length / 2)));
    expect(document).toMatchObject({ state: 'failed', reason: 'unreadable' });
  });

  it('refuses a zip bomb renamed .docx before inflating it, and one whose sizes lie within the memory limit', async () => {
    const honest = await parse('bomb.docx', bombs.honestDocx);
    expect(honest).toMatchObject({ state: 'failed', reason: 'too_large' });
    const lying = await parse('liar.docx', bombs.lyingDocx);
    expect(lying.state).toBe('failed');
    expect(['memory', 'unreadable', 'timeout']).toContain(lying.reason);
  });

  it('kills the worker of a PDF crafted to explode in memory or loop, and keeps serving', async () => {
    const document = await parse('bomb.pdf', bombs.pdf);
    expect(document.state).toBe('failed');
    expect(['memory', 'timeout']).toContain(document.reason);
    expect(document.message).toMatch(/^Could not read this file/);
    // The process and the pool are fine: the next document is read as usual.
    const next = await parse('after.pdf', await textPdf(['Still here']));
    expect(next.text).toContain('Still here');
    const ready = await fetch(`${server.url}/readyz`);
    expect(ready.status).toBe(200);
  });

  it('refuses a file whose extension lies before it is ever parsed', async () => {
    const uploaded = await upload('cv.docx', await textPdf(['a PDF in disguise']));
    expect(uploaded.status).toBe(415);
    expect(uploaded.body['code']).toBe('storage.type_mismatch');
  });

  it('takes the owner’s own text when a file could not be read, and no one else’s', async () => {
    const document = await parse('locked-again.pdf', encryptedPdf());
    expect(document.state).toBe('failed');
    const put = (user: TestUser, text: string) =>
      fetch(`${server.url}/api/documents/desk/${document.id}/text`, {
        method: 'PUT',
        headers: { ...user.headers, 'content-type': 'application/json' },
        body: JSON.stringify({ text }),
      });
    expect((await put(other, 'not mine')).status).toBe(404);
    expect((await put(owner, '   ')).status).toBe(400);
    const typed = await put(owner, 'The content, typed by hand.');
    expect(typed.status).toBe(200);
    expect(((await typed.json()) as { document: ParsedDocument }).document).toMatchObject({
      state: 'manual',
      text: 'The content, typed by hand.',
      reason: null,
    });
    const unauthenticated = await fetch(`${server.url}/api/documents/desk/${document.id}`);
    expect(unauthenticated.status).toBe(401);
    const stranger = await fetch(`${server.url}/api/documents/desk/${document.id}`, { headers: other.headers });
    expect(stranger.status).toBe(404);
  });
});
