// Where `checkpoint` writes an image: never into --image-path directly, whose entries
// anyone who can write there may have planted (config.json -> a victim file), but into
// a fresh 0700 directory runx makes inside it (mkdtemp: a new name, so nothing can be
// waiting there), each file created anew (0600) in it. publish() then renames the
// files into --image-path by their fixed names: rename(2) replaces a planted symlink
// itself and never writes through it. --image-path is opened without following its
// last component (a planted link to /etc would have the files land there) and is
// made 0700 (guest RAM is in vm.state). The staging directory is reached through an fd
// held open, by the keeper too (/proc/<our pid>/fd/N), so renaming it away and
// planting a link in its place redirects nothing.
import fs from 'node:fs';
import path from 'node:path';
import { RunxError } from '../errors';
import { writeFailure } from '../xcontainer';
import { OpenDir, kindOf } from '../xcontainer/host/path-safety';
import { IMAGE_FILES, KNOWN_IMAGE_FILES, MANIFEST_FILE, OPTIONAL_IMAGE_FILES } from './manifest';

const STAGING_PREFIX = '.runx-checkpoint-';

export class ImageWriter {
  private constructor(readonly imagePath: string, private readonly dir: OpenDir, private readonly staging: OpenDir) {}

  /** Makes --image-path if need be, checks it, and makes the staging directory in it. */
  static begin(imagePath: string): ImageWriter {
    const where = `--image-path ${imagePath}`;
    if (!fs.existsSync(imagePath)) fs.mkdirSync(imagePath, { recursive: true, mode: 0o700 });
    const dir = OpenDir.open(imagePath, where, true);
    try {
      for (const name of dir.names()) {
        if (name === MANIFEST_FILE || KNOWN_IMAGE_FILES.includes(name)) continue;
        throw new RunxError('EUSAGE', `${where} holds ${JSON.stringify(name)}, which is not a file of a runx checkpoint image: give an empty or new directory`);
      }
      fs.fchmodSync(dir.fd, 0o700);
      // Through the open directory: the path could have been swapped since it was checked.
      const made = fs.mkdtempSync(path.join(`/proc/self/fd/${dir.fd}`, STAGING_PREFIX));
      const staging = OpenDir.open(made, where, true);
      fs.fchmodSync(staging.fd, 0o700);
      return new ImageWriter(imagePath, dir, staging);
    } catch (err) {
      dir.close();
      throw err;
    }
  }

  /** The path of `name` in the staging directory (a name that does not exist yet). */
  file(name: string): string {
    return this.staging.at(name);
  }

  /** Runs `write`, which writes `name` into the staging directory: a full disk is named as such. */
  async writing<T>(name: string, write: () => T | Promise<T>): Promise<T> {
    try {
      return await write();
    } catch (err) {
      throw writeFailure(`${name} into --image-path ${this.imagePath}`, err);
    }
  }

  /** The staging directory, for this process. */
  localPath(): string {
    return `/proc/self/fd/${this.staging.fd}`;
  }

  /** The staging directory as another process (the keeper, QEMU) reaches it. */
  sharedPath(): string {
    return `/proc/${process.pid}/fd/${this.staging.fd}`;
  }

  /** Moves every file into --image-path, the manifest last: a half-published image has none. */
  /** The files of this image: every required one, and the optional ones written. */
  fileNames(): string[] {
    return [...IMAGE_FILES, ...OPTIONAL_IMAGE_FILES.filter((n) => fs.existsSync(this.file(n)))];
  }

  publish(): void {
    const names = this.fileNames();
    for (const name of [...names, MANIFEST_FILE]) {
      const st = fs.lstatSync(this.file(name));
      if (!st.isFile()) throw new RunxError('EINTERNAL', `checkpoint: ${name} is ${kindOf(st)}`);
      fs.chmodSync(this.file(name), 0o600);
    }
    fs.rmSync(this.dir.at(MANIFEST_FILE), { force: true });
    // An older image's optional file, not part of this one, must not look like it is.
    for (const name of OPTIONAL_IMAGE_FILES) if (!names.includes(name)) fs.rmSync(this.dir.at(name), { force: true });
    for (const name of [...names, MANIFEST_FILE]) {
      try {
        fs.renameSync(this.file(name), this.dir.at(name));
      } catch (err) {
        throw new RunxError('EHOST', `cannot put ${name} into ${this.imagePath}: ${(err as NodeJS.ErrnoException).code}`);
      }
    }
  }

  /** Removes the staging directory (what was not published with it). */
  end(): void {
    const name = this.staging.path.split('/').pop()!;
    for (const f of this.staging.names()) fs.rmSync(this.staging.at(f), { recursive: true, force: true });
    this.staging.close();
    fs.rmdirSync(this.dir.at(name));
    this.dir.close();
  }
}
