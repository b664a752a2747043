// File-system errors at the CLI's edge: an errno error that names a path (a folder that cannot be
// created, a file that cannot be written) is the user's input, not a bug, so it is reported in one
// line naming the path and what went wrong, without a stack trace.

const REASONS: Record<string, string> = {
  EEXIST: 'already exists',
  ENOTDIR: 'a part of the path is a file, not a folder',
  EISDIR: 'is a folder, not a file',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOENT: 'no such file or folder',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on the device',
  EIO: 'input/output error',
  EDQUOT: 'disk quota exceeded',
};

/** What the failed call was doing, by its syscall name (Node's `error.syscall`). */
const ACTIONS: Record<string, string> = {
  mkdir: 'cannot create the folder',
  open: 'cannot open',
  rename: 'cannot rename',
  rmdir: 'cannot remove',
  rm: 'cannot remove',
  unlink: 'cannot remove',
  scandir: 'cannot list',
  write: 'cannot write',
  stat: 'cannot read',
  lstat: 'cannot read',
  access: 'cannot access',
  copyfile: 'cannot copy',
};

/** `cannot create the folder out/sub: a part of the path is a file, not a folder (ENOTDIR)`; null for any other error. */
export function fileErrorMessage(error: unknown): string | null {
  if (!(error instanceof Error)) return null;
  const { path, dest, syscall, info } = error as NodeJS.ErrnoException & { dest?: string; info?: { code?: unknown } };
  // fs.rm reports a SystemError (code ERR_FS_EISDIR) whose errno code is in info.code.
  const code = typeof info?.code === 'string' ? info.code : (error as NodeJS.ErrnoException).code;
  if (typeof code !== 'string' || typeof path !== 'string' || !(code in REASONS)) return null;
  const action = (syscall !== undefined ? ACTIONS[syscall] : undefined) ?? 'cannot use';
  const target = dest !== undefined && code !== 'ENOENT' ? `${path} → ${dest}` : path;
  // mkdir -p fails with EEXIST only when a file has the name.
  const reason = syscall === 'mkdir' && code === 'EEXIST' ? 'a file of that name exists' : REASONS[code];
  return `${action} ${target}: ${reason} (${code})`;
}
