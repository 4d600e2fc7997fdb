/**
 * What a user can do about a file system error on the ledger file, its folder or its lock: the
 * message names the file (the caller) and the cause; this adds the remedy for the usual errnos.
 */
import { errCode } from '../errors.js';

/** Said with every failed append of the file ledger: a failed append never changes what is there. */
export const NOTHING_WRITTEN = 'Nothing was written: the entries already in the ledger are unchanged.';

export function fsRemedy(e: unknown): string {
  switch (errCode(e)) {
    case 'ENOSPC':
      return 'The disk holding the ledger is full: free space on it and run again.';
    case 'EDQUOT':
      return 'The disk quota of this user is used up: free space or raise the quota and run again.';
    case 'EFBIG':
      return 'The file size limit of this process was reached: raise it (`ulimit -f`) and run again.';
    case 'EROFS':
      return 'The ledger is on a read-only file system: remount it read-write, or point --ledger at a writable path.';
    case 'EACCES':
    case 'EPERM':
      return 'Permission denied: make the ledger file, its folder and its lock writable by this user ' + '(as root, check `lsattr` for the immutable or append-only attribute).';
    case 'EIO':
      return 'The disk reported an I/O error: check the device, then run `kamal-gate ledger verify`.';
    default:
      return '';
  }
}
