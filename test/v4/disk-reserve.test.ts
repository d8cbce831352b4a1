/**
 * The free-disk reserve with protocol v4, on a 64 MiB tmpfs (or, without permission to
 * mount, the real file system with a reserve derived from its free space): Welcome announces
 * no more than the room above the reserve; an upload past it is refused at UploadStart
 * (Error 14, not fatal) before a byte is written, and the next small file is stored.
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { V4ErrorCode } from '../../lib/protocol/v4/constants';
import { isTombstone } from '../../server/v4/partial-uploads';
import { fileRows, MiB, serverLog, startServerProcess } from '../support/hostile';
import { smallDataDisk } from '../support/small-disk';
import { fileSource, newIdentity, nodeSha256, openV4, refusedCode } from '../support/v4-client';

const { work, data, mounted, free } = smallDataDisk('sft-v4-reserve-', '64m', 'v4 disk-reserve');

describe('--disk-reserve with protocol v4', () => {
  it('refuses an upload past the reserve at UploadStart (14), nothing written; a small one is stored', async () => {
    const size = 40 * MiB;
    const reserve = mounted ? 32 * MiB : free() - size / 2;
    const srv = await startServerProcess(['--disk-reserve', String(reserve)], data);
    try {
      const s = await openV4(srv.port, await newIdentity());
      expect(s.maxFileSize).toBeLessThan(size);
      expect(s.maxFileSize).toBeLessThanOrEqual(free() - reserve);
      const big = join(work, 'big.bin');
      writeFileSync(big, randomBytes(size));
      expect(await refusedCode(s.upload(fileSource(big), { hash: nodeSha256 }))).toBe(
        V4ErrorCode.StorageFailed,
      );
      expect(readdirSync(join(data, 'partial')).filter((n) => !isTombstone(n))).toEqual([]);
      const small = join(work, 'small.bin');
      writeFileSync(small, randomBytes(MiB));
      expect((await s.upload(fileSource(small), { hash: nodeSha256 })).size).toBe(MiB);
      await s.close();
      expect(fileRows(data).map((r) => r.FileName)).toEqual(['small.bin']);
      expect(serverLog(srv).find((l) => l.event === 'v4-upload-refused')).toMatchObject({
        code: 14,
        reason: 'disk-reserve',
      });
      console.log(`v4 disk reserve (${mounted ? 'tmpfs' : 'real fs'}): Welcome room ${s.maxFileSize} bytes`);
    } finally {
      await srv.stop('SIGKILL');
    }
  }, 60_000);
});
