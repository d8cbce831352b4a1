import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../lib/protocol';
import { classifyError, ServerError } from './errors';

describe('classifyError', () => {
  it('keeps our codes, maps storage failures, calls the rest internal', () => {
    expect(classifyError(new ServerError('SERVER_ERR_NO_KEY', 'x'))).toEqual({ code: 'SERVER_ERR_NO_KEY' });
    const enospc = Object.assign(new Error('no space'), { code: 'ENOSPC' });
    expect(classifyError(new ServerError('SERVER_ERR_UPLOAD_WRITE', 'x', { cause: enospc }))).toEqual({
      code: 'SERVER_ERR_UPLOAD_WRITE',
      detail: 'ENOSPC',
    });
    expect(classifyError(new ProtocolError('PROTO_ERR_NAME_EMPTY', 'x'))).toEqual({
      code: 'PROTO_ERR_NAME_EMPTY',
    });
    expect(classifyError(Object.assign(new Error('full'), { code: 'SQLITE_FULL' }))).toEqual({
      code: 'SERVER_ERR_STORAGE',
      detail: 'SQLITE_FULL',
    });
    expect(classifyError(enospc)).toEqual({ code: 'SERVER_ERR_STORAGE', detail: 'ENOSPC' });
    expect(classifyError(new TypeError('bug'))).toEqual({ code: 'SERVER_ERR_INTERNAL' });
    expect(classifyError(null)).toEqual({ code: 'SERVER_ERR_INTERNAL' });
  });
});
