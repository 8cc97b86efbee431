// sha256 and size of image files, streamed (images hold hundreds of MiB).
import { createHash } from 'node:crypto';
import fs from 'node:fs';

export interface FileDigest {
  size: number;
  sha256: string;
}

export async function digestFile(file: string): Promise<FileDigest> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 1 << 20 })) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { size, sha256: hash.digest('hex') };
}

export function digestText(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
