import {
  CLIENT_ID_SIZE,
  MAX_CLIENT_NAME_LENGTH,
  MAX_PACKETS,
  MAX_U32,
  NAME_FIELD_SIZE,
  PROTOCOL_VERSION,
  PUBLIC_KEY_SIZE,
  REQUEST_HEADER_SIZE,
  RequestCode,
  SEND_FILE_FIXED_SIZE,
} from './constants';
import { ProtocolError } from './errors';
import { checkRequestHeader } from './frame-rules';
import { encodeRequestHeader, type RequestHeader } from './headers';
import { decodeNameField, encodeNameField } from './name-field';

type C = typeof RequestCode;

export interface RegisterRequest {
  code: C['Register'];
  clientId: Uint8Array;
  name: string;
}
export interface SendPublicKeyRequest {
  code: C['SendPublicKey'];
  clientId: Uint8Array;
  name: string;
  publicKey: Uint8Array;
}
export interface ReconnectRequest {
  code: C['Reconnect'];
  clientId: Uint8Array;
  name: string;
}
export interface SendFileFields {
  clientId: Uint8Array;
  /** Total ciphertext size of the file (same in every packet). */
  contentSize: number;
  /** Total plaintext size of the file (same in every packet). */
  origSize: number;
  /** 1..totalPackets (some clients count from 0). */
  packetNumber: number;
  totalPackets: number;
  fileName: string;
}
export interface SendFileRequest extends SendFileFields {
  code: C['SendFile'];
  /** This packet's slice of ciphertext (may carry zero padding past contentSize). */
  content: Uint8Array;
}
export interface FileNameRequest {
  code: C['CrcOk'] | C['CrcRetry'] | C['CrcAbort'];
  clientId: Uint8Array;
  fileName: string;
}
export type Request =
  | RegisterRequest
  | SendPublicKeyRequest
  | ReconnectRequest
  | SendFileRequest
  | FileNameRequest;

function frame(clientId: Uint8Array, code: number, payloadSize: number): Uint8Array {
  const out = new Uint8Array(REQUEST_HEADER_SIZE + payloadSize);
  encodeRequestHeader({ clientId, version: PROTOCOL_VERSION, code, payloadSize }, out);
  return out;
}

function checkU(value: number, max: number, what: string): void {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new ProtocolError('PROTO_ERR_BAD_FIELD', `${what} ${value} is out of range 0..${max}.`);
  }
}

/**
 * Header and fixed part of a 1028 request, for writing the content separately (no copy):
 *   0   request header   23   payloadSize = 267 + content length
 *  23   ContentSize       4   u32 total ciphertext size
 *  27   OrigFileSize      4   u32 total plaintext size
 *  31   PacketNumber      2   u16
 *  33   TotalPackets      2   u16
 *  35   FileName        255   NUL-terminated ASCII
 * 290   content follows
 */
export function encodeSendFilePrefix(f: SendFileFields, contentLength: number): Uint8Array {
  checkU(f.contentSize, MAX_U32, 'Content size');
  checkU(f.origSize, MAX_U32, 'Original file size');
  checkU(f.packetNumber, MAX_PACKETS, 'Packet number');
  checkU(f.totalPackets, MAX_PACKETS, 'Total packets');
  checkU(contentLength, MAX_U32 - SEND_FILE_FIXED_SIZE, 'Packet content length');
  const out = new Uint8Array(REQUEST_HEADER_SIZE + SEND_FILE_FIXED_SIZE);
  encodeRequestHeader(
    {
      clientId: f.clientId,
      version: PROTOCOL_VERSION,
      code: RequestCode.SendFile,
      payloadSize: SEND_FILE_FIXED_SIZE + contentLength,
    },
    out,
  );
  const v = new DataView(out.buffer);
  let o = REQUEST_HEADER_SIZE;
  v.setUint32(o, f.contentSize, true);
  v.setUint32(o + 4, f.origSize, true);
  v.setUint16(o + 8, f.packetNumber, true);
  v.setUint16(o + 10, f.totalPackets, true);
  o += 12;
  encodeNameField(f.fileName, NAME_FIELD_SIZE - 1, out.subarray(o, o + NAME_FIELD_SIZE));
  return out;
}

/**
 * Encodes a whole request frame: header (23) then payload by code:
 *   1025, 1027        Name(255)
 *   1026              Name(255) PublicKey(160)
 *   1028              see encodeSendFilePrefix, then content
 *   1029, 1030, 1031  FileName(255)
 * Client names are checked against the client's 100-character limit.
 */
export function encodeRequest(req: Request): Uint8Array {
  switch (req.code) {
    case RequestCode.Register:
    case RequestCode.Reconnect: {
      const out = frame(req.clientId, req.code, NAME_FIELD_SIZE);
      encodeNameField(req.name, MAX_CLIENT_NAME_LENGTH, out.subarray(REQUEST_HEADER_SIZE));
      return out;
    }
    case RequestCode.SendPublicKey: {
      if (req.publicKey.length !== PUBLIC_KEY_SIZE) {
        throw new ProtocolError(
          'PROTO_ERR_BAD_FIELD',
          `The public key must be ${PUBLIC_KEY_SIZE} bytes, got ${req.publicKey.length}.`,
        );
      }
      const out = frame(req.clientId, req.code, NAME_FIELD_SIZE + PUBLIC_KEY_SIZE);
      encodeNameField(req.name, MAX_CLIENT_NAME_LENGTH, out.subarray(REQUEST_HEADER_SIZE));
      out.set(req.publicKey, REQUEST_HEADER_SIZE + NAME_FIELD_SIZE);
      return out;
    }
    case RequestCode.SendFile: {
      const prefix = encodeSendFilePrefix(req, req.content.length);
      const out = new Uint8Array(prefix.length + req.content.length);
      out.set(prefix);
      out.set(req.content, prefix.length);
      return out;
    }
    case RequestCode.CrcOk:
    case RequestCode.CrcRetry:
    case RequestCode.CrcAbort: {
      const out = frame(req.clientId, req.code, NAME_FIELD_SIZE);
      encodeNameField(req.fileName, NAME_FIELD_SIZE - 1, out.subarray(REQUEST_HEADER_SIZE));
      return out;
    }
    default:
      // Reachable from untyped callers only; without it they would get `undefined`.
      throw new ProtocolError(
        'PROTO_ERR_UNKNOWN_CODE',
        `Unknown request code ${(req as { code: unknown }).code}.`,
      );
  }
}

/**
 * Decodes a request from its header and payload (layouts in encodeRequest). Throws
 * ProtocolError for a wrong version, an unknown code, a payload of the wrong size
 * (frame-rules.ts) or a malformed name. Name length beyond 100 is left for the server to judge.
 */
export function decodeRequest(header: RequestHeader, payload: Uint8Array): Request {
  // The same rules as the decoders' header check, applied to the payload at hand.
  checkRequestHeader({ ...header, payloadSize: payload.length }, MAX_U32);
  if (header.clientId.length !== CLIENT_ID_SIZE) {
    throw new ProtocolError('PROTO_ERR_BAD_FIELD', `A client ID is ${CLIENT_ID_SIZE} bytes.`);
  }
  const clientId = header.clientId;
  switch (header.code) {
    case RequestCode.Register:
    case RequestCode.Reconnect:
      return { code: header.code, clientId, name: decodeNameField(payload) };
    case RequestCode.SendPublicKey:
      return {
        code: header.code,
        clientId,
        name: decodeNameField(payload.subarray(0, NAME_FIELD_SIZE)),
        publicKey: payload.slice(NAME_FIELD_SIZE),
      };
    case RequestCode.SendFile: {
      const v = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
      return {
        code: header.code,
        clientId,
        contentSize: v.getUint32(0, true),
        origSize: v.getUint32(4, true),
        packetNumber: v.getUint16(8, true),
        totalPackets: v.getUint16(10, true),
        fileName: decodeNameField(payload.subarray(12, 12 + NAME_FIELD_SIZE)),
        content: payload.subarray(SEND_FILE_FIXED_SIZE),
      };
    }
    case RequestCode.CrcOk:
    case RequestCode.CrcRetry:
    case RequestCode.CrcAbort:
      return { code: header.code, clientId, fileName: decodeNameField(payload) };
    default:
      throw new ProtocolError('PROTO_ERR_UNKNOWN_CODE', `Unknown request code ${header.code}.`);
  }
}
