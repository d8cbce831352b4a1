import {
  CLIENT_ID_SIZE,
  FILE_RECEIVED_PAYLOAD_SIZE,
  MAX_RESPONSE_PAYLOAD,
  MAX_U32,
  NAME_FIELD_SIZE,
  PROTOCOL_VERSION,
  RESPONSE_HEADER_SIZE,
  ResponseCode,
} from './constants';
import { ProtocolError } from './errors';
import { checkResponseHeader } from './frame-rules';
import { encodeResponseHeader, type ResponseHeader } from './headers';
import { decodeNameField, encodeNameField } from './name-field';

type C = typeof ResponseCode;

export interface IdResponse {
  code: C['Registered'] | C['Thanks'] | C['ReconnectRejected'];
  clientId: Uint8Array;
}
export interface KeyResponse {
  code: C['PublicKeyAccepted'] | C['Reconnected'];
  clientId: Uint8Array;
  /** The AES key wrapped with the client's RSA public key (128 bytes for RSA-1024). */
  encryptedKey: Uint8Array;
}
export interface FileReceivedResponse {
  code: C['FileReceived'];
  clientId: Uint8Array;
  contentSize: number;
  fileName: string;
  cksum: number;
}
export interface EmptyResponse {
  code: C['RegisterFailed'] | C['ServerError'];
}
export type Response = IdResponse | KeyResponse | FileReceivedResponse | EmptyResponse;

function frame(code: number, payloadSize: number): Uint8Array {
  const out = new Uint8Array(RESPONSE_HEADER_SIZE + payloadSize);
  encodeResponseHeader({ version: PROTOCOL_VERSION, code, payloadSize }, out);
  return out;
}

function checkId(id: Uint8Array): void {
  if (id.length !== CLIENT_ID_SIZE) {
    throw new ProtocolError(
      'PROTO_ERR_BAD_FIELD',
      `A client ID is ${CLIENT_ID_SIZE} bytes, got ${id.length}.`,
    );
  }
}

/**
 * Encodes a whole response frame: header (7) then payload by code:
 *   1600, 1604, 1606  ClientId(16)
 *   1601, 1607        empty
 *   1602, 1605        ClientId(16) EncryptedAesKey(128 for RSA-1024)
 *   1603              ClientId(16) ContentSize u32 FileName(255) Cksum u32
 */
export function encodeResponse(res: Response): Uint8Array {
  switch (res.code) {
    case ResponseCode.Registered:
    case ResponseCode.Thanks:
    case ResponseCode.ReconnectRejected: {
      checkId(res.clientId);
      const out = frame(res.code, CLIENT_ID_SIZE);
      out.set(res.clientId, RESPONSE_HEADER_SIZE);
      return out;
    }
    case ResponseCode.RegisterFailed:
    case ResponseCode.ServerError:
      return frame(res.code, 0);
    case ResponseCode.PublicKeyAccepted:
    case ResponseCode.Reconnected: {
      checkId(res.clientId);
      // decodeResponse rejects a missing key and the frame decoder a payload over its cap.
      if (res.encryptedKey.length === 0 || res.encryptedKey.length > MAX_RESPONSE_PAYLOAD - CLIENT_ID_SIZE) {
        throw new ProtocolError(
          'PROTO_ERR_BAD_FIELD',
          `The encrypted key must be 1..${MAX_RESPONSE_PAYLOAD - CLIENT_ID_SIZE} bytes, got ${res.encryptedKey.length}.`,
        );
      }
      const out = frame(res.code, CLIENT_ID_SIZE + res.encryptedKey.length);
      out.set(res.clientId, RESPONSE_HEADER_SIZE);
      out.set(res.encryptedKey, RESPONSE_HEADER_SIZE + CLIENT_ID_SIZE);
      return out;
    }
    case ResponseCode.FileReceived: {
      checkId(res.clientId);
      for (const [what, n] of [
        ['Content size', res.contentSize],
        ['Cksum', res.cksum],
      ] as const) {
        if (!Number.isInteger(n) || n < 0 || n > MAX_U32) {
          throw new ProtocolError('PROTO_ERR_BAD_FIELD', `${what} ${n} does not fit a u32.`);
        }
      }
      const out = frame(res.code, FILE_RECEIVED_PAYLOAD_SIZE);
      let o = RESPONSE_HEADER_SIZE;
      out.set(res.clientId, o);
      o += CLIENT_ID_SIZE;
      const v = new DataView(out.buffer);
      v.setUint32(o, res.contentSize, true);
      o += 4;
      encodeNameField(res.fileName, NAME_FIELD_SIZE - 1, out.subarray(o, o + NAME_FIELD_SIZE));
      o += NAME_FIELD_SIZE;
      v.setUint32(o, res.cksum, true);
      return out;
    }
    default:
      // Reachable from untyped callers only; without it they would get `undefined`.
      throw new ProtocolError(
        'PROTO_ERR_UNKNOWN_CODE',
        `Unknown response code ${(res as { code: unknown }).code}.`,
      );
  }
}

/**
 * Decodes a response (layouts in encodeResponse). Sizes are judged by frame-rules.ts, lenient
 * where other servers differ harmlessly: 1601/1607 may carry a payload (ignored), 1606 may
 * omit the client ID.
 */
export function decodeResponse(header: ResponseHeader, payload: Uint8Array): Response {
  // The same rules as the decoder's header check, applied to the payload at hand.
  checkResponseHeader({ ...header, payloadSize: payload.length }, MAX_U32);
  const code = header.code;
  switch (code) {
    case ResponseCode.Registered:
    case ResponseCode.Thanks:
      return { code, clientId: payload.slice(0, CLIENT_ID_SIZE) };
    case ResponseCode.ReconnectRejected:
      return {
        code,
        clientId: payload.length ? payload.slice(0, CLIENT_ID_SIZE) : new Uint8Array(CLIENT_ID_SIZE),
      };
    case ResponseCode.RegisterFailed:
    case ResponseCode.ServerError:
      return { code };
    case ResponseCode.PublicKeyAccepted:
    case ResponseCode.Reconnected:
      return {
        code,
        clientId: payload.slice(0, CLIENT_ID_SIZE),
        encryptedKey: payload.slice(CLIENT_ID_SIZE),
      };
    case ResponseCode.FileReceived: {
      const v = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
      let o = CLIENT_ID_SIZE;
      const contentSize = v.getUint32(o, true);
      o += 4;
      const fileName = decodeNameField(payload.subarray(o, o + NAME_FIELD_SIZE));
      o += NAME_FIELD_SIZE;
      return {
        code,
        clientId: payload.slice(0, CLIENT_ID_SIZE),
        contentSize,
        fileName,
        cksum: v.getUint32(o, true),
      };
    }
    default:
      throw new ProtocolError('PROTO_ERR_UNKNOWN_CODE', `Unknown response code ${code}.`);
  }
}
