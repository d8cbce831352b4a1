/** Files to send as lib/client FileSources, checked before connecting and read as streams. */
import { open, stat } from 'node:fs/promises';
import path from 'node:path';
import type { FileSource } from '../lib/client';
import { MAX_FILE_NAME_LENGTH, MAX_FILE_SIZE, ProtocolError, validateName } from '../lib/protocol';
import { MAX_FILE_NAME_BYTES } from '../lib/protocol/v4/constants';
import { checkNameText } from '../lib/protocol/v4/messages';
import { PageAlignedPool } from '../platform/page-aligned';
import { CliError } from './errors';
import { shown } from './shown';

/** Read size: large reads keep syscalls few; memory stays at a couple of these per file. */
export const READ_CHUNK_SIZE = 1024 * 1024;

export interface LocalFile extends FileSource {
  path: string;
}

/**
 * Checks that `filePath` is a readable regular file whose name fits the protocol's
 * file name field, and returns a source that streams it from the start on each open().
 */
export async function prepareFile(filePath: string, protocol: 3 | 4 = 3): Promise<LocalFile> {
  let size: number;
  try {
    const st = await stat(filePath);
    if (!st.isFile())
      throw new CliError('CLI_ERR_FILE', `${shown(filePath)} is not a regular file; only files can be sent.`);
    size = st.size;
    // Opening proves read permission (access() can be fooled by ACLs and root).
    await (await open(filePath, 'r')).close();
  } catch (e) {
    if (e instanceof CliError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'does not exist. Check the path.'
        : code === 'EACCES' || code === 'EPERM'
          ? 'cannot be read: permission denied.'
          : `cannot be read: ${(e as Error).message}.`;
    throw new CliError('CLI_ERR_FILE', `${shown(filePath)} ${why}`, { cause: e });
  }
  const name = path.basename(filePath);
  if (protocol === 4) return v4File(filePath, name, size);
  try {
    validateName(name, MAX_FILE_NAME_LENGTH);
  } catch (e) {
    const why = e instanceof ProtocolError ? e.message : String(e);
    throw new CliError(
      'CLI_ERR_FILE',
      `The name of ${shown(filePath)} cannot be sent (${why}) The protocol allows printable ASCII names ` +
        `of at most ${MAX_FILE_NAME_LENGTH} characters: copy or rename the file.`,
      { cause: e },
    );
  }
  if (size > MAX_FILE_SIZE) {
    throw new CliError(
      'CLI_ERR_FILE',
      `${shown(filePath)} is ${size} bytes; protocol v3 can send at most ${MAX_FILE_SIZE} bytes (4 GiB). Split it first.`,
    );
  }
  return {
    path: filePath,
    name,
    size,
    open: () => readReusing(filePath, 0),
  };
}

/** Read buffers by size, reused from one file (and one try) to the next. */
const readPools = new Map<number, PageAlignedPool>();

function readPool(chunkSize: number): PageAlignedPool {
  let pool = readPools.get(chunkSize);
  if (!pool) {
    pool = new PageAlignedPool(chunkSize, { perMemory: 2 });
    readPools.set(chunkSize, pool);
  }
  return pool;
}

/**
 * The file's bytes from `offset` to its end, read into two buffers of `chunkSize` taken in
 * turn: while the caller works on one chunk, the next is read into the other. A chunk is
 * valid until the next is asked for (V4Source.openAt allows that, and protocol 3's session
 * encrypts and checksums each chunk before it asks for the next): protocol v4 hashes and
 * seals each record before asking for the next. A fresh buffer per read (what a ReadStream
 * does) cost the CLI a page fault per 4 KiB read and the allocator's trimming and zeroing
 * (bench/README.md, "The CLI's buffers"); a reused one from malloc starts 16 bytes into a
 * page, where the kernel's copy from the page cache is four times slower than into a
 * page-aligned one (platform/page-aligned.ts). The handle closes when the caller stops
 * (after the read ahead settles: FileHandle.close waits for it); the buffers then go back
 * for the next file.
 */
export async function* readReusing(
  filePath: string,
  offset: number,
  chunkSize = READ_CHUNK_SIZE,
): AsyncGenerator<Uint8Array> {
  const fh = await open(filePath, 'r');
  const pool = readPool(chunkSize);
  const buffers = [pool.take()!, pool.take()!];
  let at = offset;
  let turn = 0;
  const readInto = (buffer: Buffer) => fh.read(buffer, 0, buffer.length, at);
  try {
    let pending = readInto(buffers[turn]!);
    for (;;) {
      const { bytesRead, buffer } = await pending;
      if (bytesRead === 0) return;
      at += bytesRead;
      turn ^= 1;
      pending = readInto(buffers[turn]!);
      // The read ahead must not fail unobserved when the caller stops here.
      pending.catch(() => {});
      yield buffer.subarray(0, bytesRead);
    }
  } finally {
    // Closing waits for the read ahead; only then may the buffers be lent again.
    let closed = false;
    try {
      await fh.close();
      closed = true;
    } finally {
      if (closed) for (const b of buffers) pool.give(b);
    }
  }
}

/** Protocol v4's rules: a UTF-8 name of up to 255 bytes without control characters, 64-bit sizes. */
function v4File(filePath: string, name: string, size: number): LocalFile {
  try {
    checkNameText(name, MAX_FILE_NAME_BYTES, true);
  } catch (e) {
    throw new CliError(
      'CLI_ERR_FILE',
      `The name of ${shown(filePath)} cannot be sent: ${(e as Error).message} Copy or rename the file.`,
      { cause: e },
    );
  }
  return {
    path: filePath,
    name,
    size,
    open: () => readReusing(filePath, 0),
  };
}
