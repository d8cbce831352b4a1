/** The lines cli/v4-transfer.ts says when a connection is lost mid-upload. */
import { describe, expect, it } from 'vitest';
import { ClientError } from '../lib/client';
import { lostLine } from './v4-transfer';

describe('lostLine', () => {
  const at = '127.0.0.1:1256';

  it('one sentence: what ended the connection, then what happens next', () => {
    const reset = new ClientError(
      'CLIENT_ERR_CONNECTION_CLOSED',
      `The connection to the server at ${at} is closed (read ECONNRESET).`,
      { lostBecause: 'read ECONNRESET' },
    );
    expect(lostLine(at, reset, 'huge.bin', true)).toBe(
      `The connection to ${at} was lost (read ECONNRESET); reconnecting to resume huge.bin...`,
    );
    // Before the server took the upload there is nothing to resume.
    expect(lostLine(at, reset, 'huge.bin', false)).toBe(
      `The connection to ${at} was lost (read ECONNRESET); reconnecting to send huge.bin again...`,
    );
  });

  it('a close without a known cause says just that; a failed reconnect gives its own sentence', () => {
    const closed = new ClientError('CLIENT_ERR_CONNECTION_CLOSED', 'The server closed the connection.');
    expect(lostLine(at, closed, 'a.bin', true)).toBe(
      `The connection to ${at} was lost; reconnecting to resume a.bin...`,
    );
    const refused = new ClientError(
      'CLIENT_ERR_UNREACHABLE',
      `Cannot reach the server at ${at}: the connection was refused. Is the server running on that port?`,
    );
    expect(lostLine(at, refused, 'a.bin', true)).toBe(
      `Cannot reach the server at ${at}: the connection was refused. Is the server running on that port? Reconnecting to resume a.bin...`,
    );
  });
});
