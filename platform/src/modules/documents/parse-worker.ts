/**
 * Runs inside a worker thread of the documents pool (piscina), with a heap limit and a wall-time
 * limit set by the pool: untrusted bytes in, text or a named outcome out. Anything that overruns
 * kills this thread, never the process.
 */
import { fileTypeFromBuffer } from 'file-type';
import mammoth from 'mammoth';
import { extractText, getDocumentProxy } from 'unpdf';
import yauzl from 'yauzl';

/** What the pool hands a worker. */
export interface ParseInput {
  readonly bytes: Uint8Array;
  /** The stored name, for the text/Markdown decision only (the bytes decide everything else). */
  readonly name: string;
  /** A DOCX whose entries would expand beyond this many bytes is refused before it is opened. */
  readonly maxExpandedBytes: number;
  /** Text beyond this many characters is cut. */
  readonly maxTextChars: number;
}

/** What a worker answers. */
export type ParseOutcome =
  | { readonly outcome: 'text'; readonly text: string; readonly pages: number | null; readonly truncated: boolean }
  | { readonly outcome: 'no_text'; readonly pages: number | null }
  | { readonly outcome: 'encrypted' }
  | { readonly outcome: 'unreadable'; readonly detail: string }
  | { readonly outcome: 'too_large'; readonly detail: string }
  | { readonly outcome: 'unsupported'; readonly type: string };

const DOCX = 'application/vnd.openxmlformats-officedocument.wordprocessingml.document';

function cut(text: string, max: number): { text: string; truncated: boolean } {
  const clean = text
    .replace(/\r\n?/g, '\n')
    .replace(/[ \t]+\n/g, '\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
  return clean.length > max ? { text: clean.slice(0, max), truncated: true } : { text: clean, truncated: false };
}

function textOutcome(text: string, pages: number | null, max: number): ParseOutcome {
  const { text: kept, truncated } = cut(text, max);
  return kept.length === 0 ? { outcome: 'no_text', pages } : { outcome: 'text', text: kept, pages, truncated };
}

/** Sums the sizes a zip's central directory declares, and checks every entry inflates to what it declares. */
async function zipExpandedBytes(bytes: Uint8Array, limit: number): Promise<{ total: number; entries: number }> {
  const zip = await new Promise<yauzl.ZipFile>((resolve, reject) => {
    yauzl.fromBuffer(
      Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
      { lazyEntries: true },
      (error, file) => (error === null ? resolve(file) : reject(error)),
    );
  });
  return new Promise((resolve, reject) => {
    let total = 0;
    let entries = 0;
    zip.on('entry', (entry: yauzl.Entry) => {
      total += entry.uncompressedSize;
      entries += 1;
      if (total > limit || entries > 10_000) {
        zip.close();
        resolve({ total, entries });
        return;
      }
      zip.readEntry();
    });
    zip.on('end', () => resolve({ total, entries }));
    zip.on('error', reject);
    zip.readEntry();
  });
}

async function parsePdf(bytes: Uint8Array, max: number): Promise<ParseOutcome> {
  let pdf;
  try {
    pdf = await getDocumentProxy(bytes, { stopAtErrors: true, isEvalSupported: false });
  } catch (error) {
    const name = (error as { name?: string }).name;
    if (name === 'PasswordException') return { outcome: 'encrypted' };
    return { outcome: 'unreadable', detail: (error as Error).message };
  }
  try {
    const { text, totalPages } = await extractText(pdf, { mergePages: true });
    return textOutcome(text, totalPages, max);
  } catch (error) {
    return { outcome: 'unreadable', detail: (error as Error).message };
  } finally {
    await pdf.destroy();
  }
}

async function parseDocx(input: ParseInput): Promise<ParseOutcome> {
  let expanded;
  try {
    expanded = await zipExpandedBytes(input.bytes, input.maxExpandedBytes);
  } catch (error) {
    return { outcome: 'unreadable', detail: (error as Error).message };
  }
  if (expanded.total > input.maxExpandedBytes || expanded.entries > 10_000) {
    return { outcome: 'too_large', detail: `expands to more than ${input.maxExpandedBytes} bytes` };
  }
  try {
    const result = await mammoth.extractRawText({ buffer: Buffer.from(input.bytes) });
    return textOutcome(result.value, null, input.maxTextChars);
  } catch (error) {
    return { outcome: 'unreadable', detail: (error as Error).message };
  }
}

/** Extracts the text of a PDF, a DOCX, or UTF-8 text/Markdown, decided by the bytes. */
export default async function parse(input: ParseInput): Promise<ParseOutcome> {
  const detected = await fileTypeFromBuffer(input.bytes);
  if (detected?.mime === 'application/pdf') return parsePdf(input.bytes, input.maxTextChars);
  if (detected?.mime === DOCX) return parseDocx(input);
  if (detected === undefined) {
    try {
      const text = new TextDecoder('utf-8', { fatal: true }).decode(input.bytes);
      if (text.includes('\0')) return { outcome: 'unsupported', type: 'application/octet-stream' };
      return textOutcome(text, null, input.maxTextChars);
    } catch {
      return { outcome: 'unsupported', type: 'application/octet-stream' };
    }
  }
  return { outcome: 'unsupported', type: detected.mime };
}
