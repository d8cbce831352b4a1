/**
 * One handler per request code (but 1028, which streams: file-receiver.ts). Decodes the
 * request, runs its handler, and turns any failure into that code's failure outcome.
 */
import { decodeRequest, type Request, RequestCode, type RequestHeader } from '../lib/protocol';
import { reconnect, register, sendPublicKey } from './client-handlers';
import { ServerError } from './errors';
import { crcFailed, crcOk } from './file-handlers';
import type { HandlerContext } from './handler-context';
import { failed, type Outcome } from './outcome';

function dispatch(req: Request, ctx: HandlerContext): Promise<Outcome> {
  switch (req.code) {
    case RequestCode.Register:
      return register(req, ctx);
    case RequestCode.SendPublicKey:
      return sendPublicKey(req, ctx);
    case RequestCode.Reconnect:
      return reconnect(req, ctx);
    case RequestCode.CrcOk:
      return crcOk(req, ctx);
    case RequestCode.CrcRetry:
    case RequestCode.CrcAbort:
      return crcFailed(req, ctx);
    default:
      throw new ServerError('SERVER_ERR_INTERNAL', `Unhandled request code ${req.code}.`);
  }
}

/** Every request but 1028: never rejects. */
export async function handleRequest(
  header: RequestHeader,
  payload: Uint8Array,
  ctx: HandlerContext,
): Promise<Outcome> {
  let req: Request | undefined;
  try {
    req = decodeRequest(header, payload);
    return await dispatch(req, ctx);
  } catch (e) {
    return failed(header.code, e, req && 'fileName' in req ? { file: req.fileName } : {});
  }
}
