/**
 * 1029 CRC matched, 1030 CRC wrong (a new 1028 sequence follows), 1031 giving up. Each acts
 * only on the upload this connection received under that name: client IDs travel in the
 * clear, so an ID alone proves nothing; having sent the file's packets with the
 * connection's AES key is the only proof v3 offers. Anything else (another connection,
 * another client's ID, a name never sent) is refused.
 */
import { type FileNameRequest, RequestCode, ResponseCode } from '../lib/protocol';
import { ServerError } from './errors';
import type { HandlerContext } from './handler-context';
import type { Outcome } from './outcome';

/** The token of this connection's upload of the name; throws when there is none. */
async function ownUpload(req: FileNameRequest, { db, session, now }: HandlerContext): Promise<string> {
  if (!(await db.clientById(req.clientId))) {
    throw new ServerError('SERVER_ERR_UNKNOWN_CLIENT', 'The client ID in the header is not registered.');
  }
  const token = session.tokenOf(req.clientId, req.fileName);
  if (token === undefined) {
    throw new ServerError(
      'SERVER_ERR_NO_SUCH_FILE',
      `No file "${req.fileName}" was received from this client on this connection.`,
    );
  }
  // Only now: a refused request must not cost a database write (and WAL) per frame.
  await db.touch(req.clientId, now);
  return token;
}

/** 1029: marks this connection's upload of the name verified -> 1604. */
export async function crcOk(req: FileNameRequest, ctx: HandlerContext): Promise<Outcome> {
  const token = await ownUpload(req, ctx);
  if (!(await ctx.files.verify(req.clientId, req.fileName, token))) {
    throw new ServerError(
      'SERVER_ERR_FILE_REPLACED',
      `"${req.fileName}" was removed or replaced by another upload after this connection's; send it again.`,
    );
  }
  return { response: { code: ResponseCode.Thanks, clientId: req.clientId }, file: req.fileName };
}

/**
 * 1030 and 1031: the client's CRC did not match, so this connection's stored attempt is
 * removed (unless another upload of the name replaced it meanwhile: that one stays). 1031
 * is answered 1604, 1030 not at all.
 */
export async function crcFailed(req: FileNameRequest, ctx: HandlerContext): Promise<Outcome> {
  const token = await ownUpload(req, ctx);
  await ctx.files.discard(req.clientId, req.fileName, token);
  ctx.session.forgetToken(req.clientId, req.fileName);
  const response =
    req.code === RequestCode.CrcAbort ? { code: ResponseCode.Thanks, clientId: req.clientId } : null;
  return { response, file: req.fileName };
}
