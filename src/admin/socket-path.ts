// Where a server listens for admin commands from the CLI: a unix socket in its data directory (so the
// directory's 0700 mode guards it), or a named pipe on Windows.
import { createHash } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';

// sun_path holds 108 bytes on Linux and 104 on macOS, terminator included.
const maxSocketPathBytes = 100;

export function adminSocketPath(dataDir: string): string {
  const dir = path.resolve(dataDir);
  const tag = createHash('sha256').update(dir).digest('hex').slice(0, 16);
  if (process.platform === 'win32') return `\\\\.\\pipe\\flashhub-${tag}`;
  const inDir = path.join(dir, 'admin.sock');
  return Buffer.byteLength(inDir) < maxSocketPathBytes ? inDir : path.join(os.tmpdir(), `flashhub-${tag}.sock`);
}
