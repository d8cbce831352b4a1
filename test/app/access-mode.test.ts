/** The page's runtime-neutral access rule (lib/invite) says what the Node parts' one (platform/) says. */
import { describe, expect, it } from 'vitest';
import { defaultAccessMode, isLoopbackHost as neutralLoopback } from '../../lib/invite';
import { defaultAccess, isLoopbackHost } from '../../platform/access-mode';

const HOSTS = [
  'localhost',
  'LOCALHOST',
  '127.0.0.1',
  '127.1.2.3',
  '::1',
  '[::1]',
  '::ffff:127.0.0.1',
  '0.0.0.0',
  '::',
  '192.168.1.5',
  '10.0.0.1',
  'files.example.org',
  '127.0.0.1.example.org',
];

describe('the access default, page and Node parts alike', () => {
  it('agrees host by host and for lists', () => {
    for (const h of HOSTS) expect(neutralLoopback(h), h).toBe(isLoopbackHost(h));
    for (const list of [['127.0.0.1'], ['127.0.0.1', '0.0.0.0'], ['localhost', '::1'], ['nas.lan']])
      expect(defaultAccessMode(list), list.join(',')).toBe(defaultAccess(list));
  });
});
