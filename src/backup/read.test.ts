// The line reader under the backup format: lines split anywhere across chunks, CRLF, a last line
// without a newline, and input that is not text or has no end.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BackupError, numberedLines } from './read.ts';

async function collect(chunks: (string | Buffer)[], maxBytes?: number): Promise<string[]> {
  const lines: string[] = [];
  for await (const line of numberedLines(chunks, maxBytes)) lines.push(`${line.number}:${line.text}`);
  return lines;
}

test('lines split across chunks, CRLF and a last line without a newline', async () => {
  const text = Buffer.from('{"a":"é"}\r\n{"b":2}\n\n{"c":"ü"}');
  // Every split point, including inside the two-byte é and ü.
  for (let cut = 0; cut <= text.length; cut++) {
    assert.deepEqual(await collect([text.subarray(0, cut), text.subarray(cut)]), ['1:{"a":"é"}', '2:{"b":2}', '3:', '4:{"c":"ü"}'], `cut at ${cut}`);
  }
});

test('a line longer than the limit, or not UTF-8, is an error naming the line', async () => {
  await assert.rejects(collect(['ok\n', 'x'.repeat(10), 'y'.repeat(10)], 16), (error: unknown) => error instanceof BackupError && error.message === 'line 2: longer than 16 bytes');
  await assert.rejects(collect(['ok\n', Buffer.from([0x7b, 0xff, 0x7d, 0x0a])]), /line 2: not UTF-8 text/);
});
