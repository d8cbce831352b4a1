import { expect, test } from 'vitest';
import { bufferutilStatus } from './native';

test('ws unmasks with the native bufferutil addon (installed as a dependency)', () => {
  expect(bufferutilStatus()).toBe('native');
});
