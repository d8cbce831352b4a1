import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);

/**
 * Whether `ws` masks/unmasks with the native `bufferutil` addon. The bridge unmasks every
 * browser message (clients must mask), so this is on the upload hot path. ws loads the
 * addon from its lib/buffer-util.js when it can; we look at what that module ended up with.
 */
export function bufferutilStatus(): 'native' | 'js-fallback' | 'not-used' {
  const wsDir = dirname(require.resolve('ws'));
  const wsBufferUtil = require(join(wsDir, 'lib', 'buffer-util.js')) as { unmask: (...a: unknown[]) => void };
  if (!wsBufferUtil.unmask.toString().includes('bufferUtil.unmask')) return 'not-used';
  const addon = require('bufferutil') as { unmask: (...a: unknown[]) => void };
  return addon.unmask.toString().includes('[native code]') ? 'native' : 'js-fallback';
}
