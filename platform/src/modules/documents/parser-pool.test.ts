import JSZip from 'jszip';
import { afterAll, describe, expect, it } from 'vitest';
import { createParserPool } from './documents.service.ts';

/**
 * The sandbox itself: a document that needs more heap than a worker may have kills that worker
 * (ERR_WORKER_OUT_OF_MEMORY, reported as `memory`), and the pool goes on with a fresh one. The
 * wall-time limit is set far away so only the heap limit can end the run.
 */
const pool = createParserPool({ timeoutMs: 300_000, memoryMb: 48, maxBytes: 50 * 1024 * 1024, workers: 1 });

afterAll(async () => {
  await pool.close();
});

/** A 300 KB DOCX of three million paragraphs: about 100 MB of XML, a document tree far larger. */
async function greedyDocx(): Promise<Uint8Array> {
  const zip = new JSZip();
  zip.file(
    '[Content_Types].xml',
    '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>',
  );
  zip.file(
    'word/document.xml',
    `<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>${'<w:p><w:r><w:t>x</w:t></w:r></w:p>'.repeat(3_000_000)}</w:body></w:document>`,
  );
  return zip.generateAsync({ type: 'uint8array', compression: 'DEFLATE' });
}

describe('the parser pool', () => {
  it('kills a worker that outgrows its heap limit, and parses the next file in a fresh one', async () => {
    const outcome = await pool.run({
      bytes: await greedyDocx(),
      name: 'greedy.docx',
      maxExpandedBytes: 1024 * 1024 * 1024,
      maxTextChars: 2_000_000,
    });
    expect(outcome).toEqual({ outcome: 'memory' });
    const next = await pool.run({
      bytes: new TextEncoder().encode('still reading'),
      name: 'after.txt',
      maxExpandedBytes: 1024,
      maxTextChars: 100,
    });
    expect(next).toEqual({ outcome: 'text', text: 'still reading', pages: null, truncated: false });
  }, 120_000);
});
