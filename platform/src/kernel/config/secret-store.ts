import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/**
 * Development secrets, generated once and kept in `DATA_DIR/secrets.json` with mode 0600 so a
 * restart keeps every session and signed link valid. Creation is atomic (write a temporary file,
 * then hard-link it into place), so two processes starting together agree on one set.
 */
export function loadOrCreateDevSecrets(dataDir: string, names: readonly string[]): Record<string, string> {
  const file = path.join(dataDir, 'secrets.json');
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  for (let attempt = 0; attempt < 5; attempt++) {
    const existing = readSecretsFile(file);
    const missing = names.filter((name) => typeof existing?.[name] !== 'string');
    if (existing !== undefined && missing.length === 0) return existing;
    const next: Record<string, string> = { ...existing };
    for (const name of missing) next[name] = randomBytes(48).toString('base64url');
    const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    fs.writeFileSync(tmp, `${JSON.stringify(next, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
    try {
      if (existing === undefined) {
        // link() fails if another process created the file first; then we read theirs.
        fs.linkSync(tmp, file);
      } else {
        fs.renameSync(tmp, file);
        continue;
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    } finally {
      fs.rmSync(tmp, { force: true });
    }
  }
  const settled = readSecretsFile(file);
  if (settled === undefined) throw new Error(`could not create ${file}`);
  return settled;
}

function readSecretsFile(file: string): Record<string, string> | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const parsed: unknown = JSON.parse(text);
  if (parsed === null || typeof parsed !== 'object') throw new Error(`${file} is not a JSON object`);
  return parsed as Record<string, string>;
}

const placeholderWords = [
  'changeme',
  'change-me',
  'change_me',
  'secret',
  'password',
  'default',
  'example',
  'placeholder',
  'replace-me',
  'replaceme',
  'your-secret',
  'supersecret',
  'test',
  'dev',
  'development',
  'insecure',
];

/**
 * Why a production secret is unsafe, or `undefined` when it is fine. `examples` are values
 * published in `.env.example` (anyone can read them, so they are as good as public).
 */
export function describeSecretWeakness(value: string | undefined, examples: ReadonlySet<string>): string | undefined {
  if (value === undefined || value.length === 0) return 'is missing';
  const lowered = value.toLowerCase();
  if (examples.has(value)) return 'is the published value from .env.example';
  if (placeholderWords.includes(lowered) || /change.?me|replace|placeholder|your[-_]?secret/.test(lowered)) {
    return 'is a well-known placeholder';
  }
  const bytes = Buffer.byteLength(value, 'utf8');
  if (bytes < 32) return `is ${bytes} bytes long; at least 32 are required`;
  if (new Set(value).size < 10) return 'has too few distinct characters to be random';
  return undefined;
}
