/**
 * Codecs of the v4 hello bodies, the Alert body and every Sealed message. Layouts are the
 * tables of docs/PROTOCOL.md ("Messages"); each decoder refuses a wrong type byte, a field
 * out of range and trailing bytes (V4ProtocolError).
 */

import { unsafeNameChar } from '../name-chars';
import { ByteReader, ByteWriter, encodeUtf8 } from './bytes';
import {
  CLIENT_ID_SIZE_V4,
  KEY_SIZE,
  MAX_CLIENT_NAME_BYTES,
  MAX_FILE_NAME_BYTES,
  MAX_INVITE_BYTES,
  MAX_MESSAGE_SIZE,
  MAX_REASON_BYTES,
  MessageType,
  RECORD_SIZE,
  SHA256_SIZE,
  SIGNATURE_SIZE,
  UPLOAD_ID_SIZE,
} from './constants';
import { V4ProtocolError } from './errors';

export interface Hello {
  suite: number;
  ephemeral: Uint8Array;
}
export interface ErrorBody {
  code: number;
  fatal: boolean;
  reason: string;
}
export interface ClientAuth {
  type: typeof MessageType.ClientAuth;
  clientKey: Uint8Array;
  signature: Uint8Array;
  name: string;
  invite: string;
}
export interface ServerAuth {
  type: typeof MessageType.ServerAuth;
  serverKey: Uint8Array;
  signature: Uint8Array;
}
export interface Welcome {
  type: typeof MessageType.Welcome;
  clientId: Uint8Array;
  registered: boolean;
  maxFileSize: number;
}
export interface UploadStart {
  type: typeof MessageType.UploadStart;
  uploadId: Uint8Array;
  resume: boolean;
  fileKey: Uint8Array;
  size: number;
  recordSize: number;
  name: string;
}
export interface UploadReady {
  type: typeof MessageType.UploadReady;
  uploadId: Uint8Array;
  nextRecord: number;
}
export interface UploadDone {
  type: typeof MessageType.UploadDone;
  uploadId: Uint8Array;
  size: number;
  sha256: Uint8Array;
  storedName: string;
}
export interface UploadAbort {
  type: typeof MessageType.UploadAbort | typeof MessageType.UploadAborted;
  uploadId: Uint8Array;
}
export interface Bye {
  type: typeof MessageType.Bye;
}
export interface ErrorMessage extends ErrorBody {
  type: typeof MessageType.Error;
}
export type Message =
  | ClientAuth
  | ServerAuth
  | Welcome
  | UploadStart
  | UploadReady
  | UploadDone
  | UploadAbort
  | Bye
  | ErrorMessage;

function bad(why: string): V4ProtocolError {
  return new V4ProtocolError('V4_ERR_BAD_FIELD', why);
}

function checkSize(b: Uint8Array, n: number, what: string): void {
  if (b.length !== n) throw new RangeError(`${what} must be ${n} bytes`);
}

/** Text for a name field: 1..max UTF-8 bytes, no control characters; `file` adds the path rules. */
export function checkNameText(name: string, max: number, file: boolean): Uint8Array {
  const bytes = encodeUtf8(name);
  if (bytes.length < 1 || bytes.length > max) throw bad(`A name must be 1 to ${max} bytes.`);
  const problem = nameProblem(name, file);
  if (problem) throw bad(problem);
  return bytes;
}

/**
 * What breaks the name rules (no control, bidi-formatting or separator character:
 * ../name-chars.ts; for a file name also no `/` or `\` and not the names `.` and `..`), or
 * null. An UploadStart's name is decoded without them: the server answers a name that
 * breaks them with Error 15, not as a broken message.
 */
export function nameProblem(name: string, file: boolean): string | null {
  const unsafe = unsafeNameChar(name);
  if (unsafe)
    return `A name may not contain control characters, bidi formatting characters or line separators (${unsafe}).`;
  if (file && (/[/\\]/.test(name) || name === '.' || name === '..'))
    return 'A file name may not contain / or \\ or be . or ..';
  return null;
}

// Hello body: suite u16 | ephemeral 32.
export function encodeHello(h: Hello): Uint8Array {
  checkSize(h.ephemeral, KEY_SIZE, 'ephemeral key');
  return new ByteWriter(2 + KEY_SIZE).u16(h.suite).raw(h.ephemeral).done();
}
export function decodeHello(body: Uint8Array): Hello {
  const r = new ByteReader(body);
  const hello = { suite: r.u16(), ephemeral: r.raw(KEY_SIZE) };
  r.end();
  return hello;
}

function reasonBytes(reason: string): Uint8Array {
  let text = reason;
  let bytes = encodeUtf8(text);
  // Cut on a character boundary so the receiver's strict UTF-8 decoder accepts it.
  while (bytes.length > MAX_REASON_BYTES) {
    text = text.slice(0, -1);
    bytes = encodeUtf8(text);
  }
  return bytes;
}

// Alert body and Error message after its type byte: code u16 | flags u8 | reason len u16 | reason.
export function encodeAlert(e: ErrorBody): Uint8Array {
  const reason = reasonBytes(e.reason);
  return new ByteWriter(5 + reason.length)
    .u16(e.code)
    .u8(e.fatal ? 1 : 0)
    .u16(reason.length)
    .raw(reason)
    .done();
}
function readErrorBody(r: ByteReader): ErrorBody {
  const code = r.u16();
  const flags = r.u8();
  const len = r.u16();
  if (len > MAX_REASON_BYTES) throw bad('Reason too long.');
  return { code, fatal: (flags & 1) === 1, reason: r.utf8(len, 'reason') };
}
export function decodeAlert(body: Uint8Array): ErrorBody {
  const r = new ByteReader(body);
  const e = readErrorBody(r);
  r.end();
  return e;
}

/** Encodes one Sealed message's plaintext (type byte first). */
export function encodeMessage(m: Message): Uint8Array {
  switch (m.type) {
    case MessageType.ClientAuth: {
      checkSize(m.clientKey, KEY_SIZE, 'client key');
      checkSize(m.signature, SIGNATURE_SIZE, 'signature');
      const name = checkNameText(m.name, MAX_CLIENT_NAME_BYTES, false);
      const invite = encodeUtf8(m.invite);
      if (invite.length > MAX_INVITE_BYTES) throw bad('Invite too long.');
      return new ByteWriter(1 + 32 + 64 + 1 + name.length + 2 + invite.length)
        .u8(m.type)
        .raw(m.clientKey)
        .raw(m.signature)
        .u8(name.length)
        .raw(name)
        .u16(invite.length)
        .raw(invite)
        .done();
    }
    case MessageType.ServerAuth:
      checkSize(m.serverKey, KEY_SIZE, 'server key');
      checkSize(m.signature, SIGNATURE_SIZE, 'signature');
      return new ByteWriter(97).u8(m.type).raw(m.serverKey).raw(m.signature).done();
    case MessageType.Welcome:
      checkSize(m.clientId, CLIENT_ID_SIZE_V4, 'client ID');
      return new ByteWriter(26)
        .u8(m.type)
        .raw(m.clientId)
        .u8(m.registered ? 1 : 0)
        .u64(m.maxFileSize)
        .done();
    case MessageType.UploadStart: {
      checkSize(m.uploadId, UPLOAD_ID_SIZE, 'upload ID');
      checkSize(m.fileKey, KEY_SIZE, 'file key');
      const name = checkNameText(m.name, MAX_FILE_NAME_BYTES, true);
      return new ByteWriter(64 + name.length)
        .u8(m.type)
        .raw(m.uploadId)
        .u8(m.resume ? 1 : 0)
        .raw(m.fileKey)
        .u64(m.size)
        .u32(m.recordSize)
        .u16(name.length)
        .raw(name)
        .done();
    }
    case MessageType.UploadReady:
      checkSize(m.uploadId, UPLOAD_ID_SIZE, 'upload ID');
      return new ByteWriter(25).u8(m.type).raw(m.uploadId).u64(m.nextRecord).done();
    case MessageType.UploadDone: {
      checkSize(m.uploadId, UPLOAD_ID_SIZE, 'upload ID');
      checkSize(m.sha256, SHA256_SIZE, 'SHA-256');
      const name = checkNameText(m.storedName, MAX_FILE_NAME_BYTES, true);
      return new ByteWriter(59 + name.length)
        .u8(m.type)
        .raw(m.uploadId)
        .u64(m.size)
        .raw(m.sha256)
        .u16(name.length)
        .raw(name)
        .done();
    }
    case MessageType.UploadAbort:
    case MessageType.UploadAborted:
      checkSize(m.uploadId, UPLOAD_ID_SIZE, 'upload ID');
      return new ByteWriter(17).u8(m.type).raw(m.uploadId).done();
    case MessageType.Bye:
      return Uint8Array.of(m.type);
    case MessageType.Error: {
      const body = encodeAlert(m);
      return new ByteWriter(1 + body.length).u8(m.type).raw(body).done();
    }
  }
}

/** Decodes one Sealed message's plaintext. */
export function decodeMessage(bytes: Uint8Array): Message {
  if (bytes.length < 1 || bytes.length > MAX_MESSAGE_SIZE) throw bad('Bad message size.');
  const r = new ByteReader(bytes);
  const type = r.u8();
  const m = readMessage(type, r);
  r.end();
  return m;
}

function readName(r: ByteReader, len: number, max: number, file: boolean, what: string): string {
  const name = r.utf8(len, what);
  checkNameText(name, max, file);
  return name;
}

function readMessage(type: number, r: ByteReader): Message {
  switch (type) {
    case MessageType.ClientAuth: {
      const clientKey = r.raw(KEY_SIZE);
      const signature = r.raw(SIGNATURE_SIZE);
      const name = readName(r, r.u8(), MAX_CLIENT_NAME_BYTES, false, 'client name');
      const inviteLen = r.u16();
      if (inviteLen > MAX_INVITE_BYTES) throw bad('Invite too long.');
      return { type, clientKey, signature, name, invite: r.utf8(inviteLen, 'invite') };
    }
    case MessageType.ServerAuth:
      return { type, serverKey: r.raw(KEY_SIZE), signature: r.raw(SIGNATURE_SIZE) };
    case MessageType.Welcome:
      return {
        type,
        clientId: r.raw(CLIENT_ID_SIZE_V4),
        registered: (r.u8() & 1) === 1,
        maxFileSize: r.u64(),
      };
    case MessageType.UploadStart: {
      const uploadId = r.raw(UPLOAD_ID_SIZE);
      const resume = (r.u8() & 1) === 1;
      const fileKey = r.raw(KEY_SIZE);
      // Past 2^53 - 1 as Infinity: the server refuses it as too large (Error 7), not as broken.
      const size = r.u64Size();
      const recordSize = r.u32();
      if (recordSize !== RECORD_SIZE) throw bad(`Record size ${recordSize} is not ${RECORD_SIZE}.`);
      // The length and UTF-8 here; the name rules are the server's to answer (Error 15).
      const length = r.u16();
      if (length < 1 || length > MAX_FILE_NAME_BYTES)
        throw bad(`A name must be 1 to ${MAX_FILE_NAME_BYTES} bytes.`);
      const name = r.utf8(length, 'file name');
      return { type, uploadId, resume, fileKey, size, recordSize, name };
    }
    case MessageType.UploadReady:
      return { type, uploadId: r.raw(UPLOAD_ID_SIZE), nextRecord: r.u64() };
    case MessageType.UploadDone: {
      const uploadId = r.raw(UPLOAD_ID_SIZE);
      const size = r.u64();
      const sha256 = r.raw(SHA256_SIZE);
      const storedName = readName(r, r.u16(), MAX_FILE_NAME_BYTES, true, 'stored name');
      return { type, uploadId, size, sha256, storedName };
    }
    case MessageType.UploadAbort:
    case MessageType.UploadAborted:
      return { type, uploadId: r.raw(UPLOAD_ID_SIZE) };
    case MessageType.Bye:
      return { type };
    case MessageType.Error:
      return { type, ...readErrorBody(r) };
    default:
      throw new V4ProtocolError('V4_ERR_BAD_MESSAGE', `Unknown message type ${type}.`);
  }
}
