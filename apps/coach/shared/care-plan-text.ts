/** A piece of a care plan's text: a paragraph, or a list (numbered or not) of items. */
export type CarePlanBlock =
  | { readonly kind: 'paragraph'; readonly text: string }
  | { readonly kind: 'list'; readonly ordered: boolean; readonly items: readonly string[] };

const numbered = /^\s*\d+[.)]\s+/;
const bulleted = /^\s*[-*•]\s+/;

/**
 * A care plan's plain text (as a model or the template writes it) as blocks to render: runs of
 * `1. ...` lines become a numbered list, runs of `- ...` lines a bulleted one, the rest paragraphs
 * (lines without a blank between them join). Markdown emphasis marks are dropped, not interpreted.
 */
export function carePlanBlocks(body: string): CarePlanBlock[] {
  const blocks: CarePlanBlock[] = [];
  let paragraph: string[] = [];
  const flush = () => {
    if (paragraph.length > 0) blocks.push({ kind: 'paragraph', text: paragraph.join(' ') });
    paragraph = [];
  };
  for (const raw of body.replace(/\*\*|__/g, '').split(/\r?\n/)) {
    const line = raw.trim().replace(/^#+\s+/, '');
    const ordered = numbered.test(line);
    if (ordered || bulleted.test(line)) {
      flush();
      const item = line.replace(ordered ? numbered : bulleted, '');
      const last = blocks.at(-1);
      if (last?.kind === 'list' && last.ordered === ordered) {
        blocks[blocks.length - 1] = { ...last, items: [...last.items, item] };
      } else {
        blocks.push({ kind: 'list', ordered, items: [item] });
      }
    } else if (line === '') {
      flush();
    } else {
      paragraph.push(line);
    }
  }
  flush();
  return blocks;
}
