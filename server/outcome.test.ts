import { describe, expect, it } from 'vitest';
import { RequestCode, ResponseCode } from '../lib/protocol';
import { ServerError } from './errors';
import { failed } from './outcome';

describe('failed(): the failure answer of each request code', () => {
  const e = new ServerError('SERVER_ERR_UNKNOWN_CLIENT', 'x');
  it.each([
    [RequestCode.Register, { code: ResponseCode.RegisterFailed }],
    [RequestCode.CrcRetry, null],
    [RequestCode.SendPublicKey, { code: ResponseCode.ServerError }],
    [RequestCode.CrcOk, { code: ResponseCode.ServerError }],
    [RequestCode.CrcAbort, { code: ResponseCode.ServerError }],
  ])('%i', (code, response) => {
    expect(failed(code, e)).toEqual({ response, error: 'SERVER_ERR_UNKNOWN_CLIENT' });
  });

  it('storage errors keep their cause as detail; a bug carries its message for internal-error', () => {
    const full = Object.assign(new Error('disk full'), { code: 'SQLITE_FULL' });
    expect(failed(RequestCode.CrcOk, full, { file: 'f' })).toMatchObject({
      error: 'SERVER_ERR_STORAGE',
      detail: 'SQLITE_FULL',
      file: 'f',
    });
    expect(failed(RequestCode.CrcOk, new TypeError('oops'))).toMatchObject({
      error: 'SERVER_ERR_INTERNAL',
      internal: 'oops',
    });
  });
});
