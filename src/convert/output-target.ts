// Where `convert` may write, decided before anything is written. The output is renamed into place
// from a temporary beside it, so a target that is a device or FIFO would be replaced by a regular
// file (as root, `-o /dev/null` would replace the system's /dev/null), and a target that is one of
// the inputs would destroy the checkpoint being read. Both are refused. Files are compared by
// device and inode, so a hard link, a symlink or another spelling of an input's path is caught too.
//
// A target that is a symlink is followed: the file it points to is replaced (the temporary is made
// beside that file, so the rename stays on its file system) and the link itself is kept, as `cp`
// and shell redirection do. A dangling link is written through the same way.
//
// Temporaries are named `<target>.tmp-<pid>`. One left by a convert that was killed (SIGKILL,
// power loss: no handler runs) is removed by the next convert into that folder, once its pid is no
// longer running and it holds what a convert writes (a GGUF header, or nothing yet).

import { closeSync, lstatSync, openSync, readdirSync, readlinkSync, readSync, statSync, unlinkSync, type Stats } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { OptionError } from '../errors.js';
import { notRegularFile } from '../node/file-source.js';

const TEMP = /\.tmp-(\d+)$/;

export function tempPathFor(target: string, pid = process.pid): string {
  return `${target}.tmp-${pid}`;
}

/**
 * Checks `target` against the rules above and returns the path to write (the target, or the file a
 * symlink target points to). `inputs` are every file the conversion reads.
 */
export function resolveOutputTarget(target: string, inputs: string[]): string {
  const real = followLinks(target);
  let st: Stats | null = null;
  try {
    st = statSync(real);
  } catch { /* does not exist yet: nothing to protect */ }
  if (st && !st.isFile()) {
    throw new OptionError('-o/--output', `${target} is ${notRegularFile(st)}, not a regular file; convert writes a new model file and will not replace it (choose a file path)`);
  }
  if (st) {
    for (const input of inputs) {
      let si: Stats;
      try {
        si = statSync(input);
      } catch { continue; }
      if (si.dev === st.dev && si.ino === st.ino) {
        throw new OptionError('-o/--output', `${target} is the same file as the input ${input}; writing it would destroy the checkpoint being read (choose another output path)`);
      }
    }
  }
  return real;
}

/** The path a chain of symlinks ends at (which need not exist). */
function followLinks(path: string): string {
  let p = resolve(path);
  for (let hops = 0; hops < 40; hops++) {
    let st: Stats;
    try {
      st = lstatSync(p);
    } catch {
      return p;
    }
    if (!st.isSymbolicLink()) return p;
    p = resolve(dirname(p), readlinkSync(p));
  }
  throw new OptionError('-o/--output', `${path}: too many levels of symbolic links`);
}

/** Removes temporaries of dead converts in the folder of `target`; returns the paths removed. */
export function removeStaleTemps(target: string): string[] {
  const dir = dirname(target);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const m = TEMP.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    const path = join(dir, name);
    if (pid === process.pid || isRunning(pid) || !looksLikeOurs(path, name === basename(tempPathFor(target, pid)))) continue;
    try {
      unlinkSync(path);
      removed.push(path);
    } catch { /* gone already, or not ours to remove */ }
  }
  return removed;
}

function isRunning(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it runs, as another user.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A regular file starting with "GGUF", or an empty one when it is the temporary of this very target. */
function looksLikeOurs(path: string, sameTarget: boolean): boolean {
  let fd = -1;
  try {
    const st = lstatSync(path);
    if (!st.isFile()) return false;
    if (st.size === 0) return sameTarget;
    fd = openSync(path, 'r');
    const b = Buffer.alloc(4);
    return readSync(fd, b, 0, 4, 0) === 4 && b.toString('latin1') === 'GGUF';
  } catch {
    return false;
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}
