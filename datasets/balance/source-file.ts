// The lineage identity of an input file: what a row's `source_file` (extra_info.source_file in the RL set, `file`
// in the rejects table) records. It must be a function of the files a source resolves to only, never of the
// recipe's base_dir or of how a path was spelled: the same selection started from the CLI (paths relative to the
// recipe file's folder) and from the Web UI (another base_dir, absolute paths) has to give the same bytes, and so
// the same sha256. Each file is therefore named by its path below the deepest folder common to all files of its
// source: one file is its base name; shards in sub-folders keep the sub-path that tells them apart.
import { isAbsolute, sep } from 'node:path';

/**
 * Identity of each file of one source, in the order given. `files` are the resolved (absolute, normalised,
 * distinct) paths of resolveSourceFiles; distinct paths give distinct identities, and since every file keeps
 * the same common prefix, identities sort in the same order as the paths.
 */
export function sourceFileIds(files: string[]): string[] {
  const dirs = files.map((f) => {
    if (!isAbsolute(f)) throw new Error(`sourceFileIds: ${f} is not an absolute path`);
    return f.split(sep).slice(0, -1);
  });
  let common = dirs.length ? dirs[0].length : 0;
  for (const d of dirs) {
    let i = 0;
    while (i < common && i < d.length && d[i] === dirs[0][i]) i++;
    common = i;
  }
  return files.map((f) => f.split(sep).slice(common).join('/'));
}
