/**
 * Why a file's stored name differs from its own, in one sentence for its row in the queue.
 * Plain TypeScript (no JSX) so that it is tested without a renderer.
 */
import type { UploadItem } from '@/browser/upload-queue';

/** Why the stored name differs from the file's: said once, in words. `protocol`: the connection's. */
export function renameReason(
  it: Pick<UploadItem, 'file' | 'wireName' | 'protocol'>,
  protocol: 3 | 4 | null,
): string {
  // Protocol v4 sends the name as it is (UTF-8); only the file on disk gets a safe name.
  if ((it.protocol ?? protocol) === 4) {
    return 'The server stores the file under a name of plain letters, digits and common punctuation (other characters become “_”); its list keeps the name as you sent it.';
  }
  if (it.wireName !== it.file.name) {
    return 'Protocol v3 names are plain ASCII: other characters are sent as “_”, and the server replaces characters file systems do not allow.';
  }
  return 'The server replaces characters file systems do not allow.';
}
