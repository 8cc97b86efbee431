// Unix socket paths are limited to 107 bytes (sun_path), and Node silently cuts a
// longer one. State directories can be deeper than that: dockerd's
// /var/run/docker/runtime-runc/moby/<64-hex id>/agent.sock is 109 bytes. For such a
// path, name the socket through a directory descriptor instead:
// /proc/self/fd/<fd>/<name> reaches the same file and is short.
import fs from 'node:fs';
import path from 'node:path';

const SUN_PATH_MAX = 107;
const dirFds = new Map<string, number>();

export function socketPath(file: string): string {
  if (Buffer.byteLength(file) <= SUN_PATH_MAX) return file;
  const dir = path.dirname(file);
  let fd = dirFds.get(dir);
  if (fd === undefined) {
    fd = fs.openSync(dir, 'r');
    dirFds.set(dir, fd);
  }
  return `/proc/self/fd/${fd}/${path.basename(file)}`;
}
