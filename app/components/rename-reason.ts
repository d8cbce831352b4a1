/**
 * Why a file's stored name differs from its own, in one sentence for its row in the queue.
 * Plain TypeScript (no JSX) so that it is tested without a renderer.
 */
import type { UploadItem } from '@/browser/upload-queue';
import { MAX_STORED_NAME_LENGTH, sanitizeFileName } from '@/lib/protocol';

/** Whether the server replaces a character of `name` (one it does not keep in a stored name). */
function hasReplacedChar(name: string): boolean {
  return [...name].some((ch) => sanitizeFileName(`a${ch}a`) !== `a${ch}a`);
}

/** Why the stored name differs from the file's: said once, in words. `protocol`: the connection's. */
export function renameReason(
  it: Pick<UploadItem, 'file' | 'wireName' | 'protocol'>,
  protocol: 3 | 4 | null,
): string {
  const shortened = [...it.wireName].length > MAX_STORED_NAME_LENGTH;
  const short = shortened
    ? ` Names over ${MAX_STORED_NAME_LENGTH} characters are shortened, keeping the extension.`
    : '';
  // Protocol v4 sends the name as it is (UTF-8); only the file on disk gets a safe name.
  if ((it.protocol ?? protocol) === 4) {
    const kept = ' Its list keeps the name as you sent it.';
    if (hasReplacedChar(it.file.name))
      return `The server stores the file under a name of plain letters, digits and common punctuation (other characters become “_”).${short}${kept}`;
    if (shortened) return `${short.trim()}${kept}`;
    return `The server changes what file systems do not allow (a leading dot, a trailing dot or space, a device name such as “con”).${kept}`;
  }
  if (it.wireName !== it.file.name) {
    return `Protocol v3 names are plain ASCII: other characters are sent as “_”, and the server replaces characters file systems do not allow.${short}`;
  }
  return `The server replaces characters file systems do not allow.${short}`;
}
