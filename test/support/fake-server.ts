/**
 * TEST USE ONLY (uses node:crypto). An in-memory protocol v3 file server written from
 * docs/PROTOCOL.md, with knobs to misbehave, for driving ClientSession through every
 * branch. Not the real server: no disk, no database, files kept in memory. Requests are read
 * with lib/protocol's RequestDecoder, the same decoder the server uses.
 */
import {
  createDecipheriv,
  createPublicKey,
  constants as cryptoConstants,
  type Decipher,
  publicEncrypt,
  randomBytes,
} from 'node:crypto';
import type { Transport } from '../../lib/client/transport';
import { Cksum } from '../../lib/crypto';
import {
  AES_KEY_SIZE,
  CLIENT_ID_SIZE,
  clientIdEquals,
  clientIdToHex,
  decodeRequest,
  ENCRYPTED_AES_KEY_SIZE,
  encodeResponse,
  encodeResponseHeader,
  PROTOCOL_VERSION,
  type Request,
  RequestCode,
  RequestDecoder,
  type Response,
  ResponseCode,
  ZERO_IV,
} from '../../lib/protocol';
import { MemoryTransport } from './memory-transport';
import { FrameJoiner } from './request-frames';

export interface FakeServerKnobs {
  /** Answer 1601 to every 1025 (names already taken get 1601 anyway). */
  refuseRegistration?: boolean;
  /** Answer 1606 to every 1027. */
  rejectReconnect?: boolean;
  /** Answer 1607 to these request codes (for 1028: to the packet `errorAtPacket`, default the last). */
  serverErrorOn?: number[];
  errorAtPacket?: number;
  /** Report a wrong CRC in this many of the next 1603 answers. */
  wrongCrcTimes?: number;
  /** Close the connection without answering when this request code arrives. */
  closeOn?: number;
  /** With closeOn 1028: close on this packet number (default 1). */
  closeAtPacket?: number;
  /** Answer request code K with response code V (a well-formed frame of the wrong kind). */
  answerWith?: Partial<Record<number, number>>;
  /** Answer this request code with bytes that are not a valid response. */
  garbageOn?: number;
  /** Answer 1030 with 1604, as some servers do although the protocol says nothing. */
  thanksForRetry?: boolean;
  /** Process this request code but never answer it (a hung server). */
  noAnswerTo?: number;
  /** Deliver responses one byte at a time (proves incremental decoding). */
  splitResponses?: boolean;
}

export interface StoredFile {
  clientName: string;
  fileName: string;
  bytes: Uint8Array;
  cksum: number;
  verified: boolean;
}

export interface LoggedRequest {
  code: number;
  clientId: string;
  packetNumber?: number;
  totalPackets?: number;
  contentSize?: number;
  origSize?: number;
  contentLength?: number;
}

interface Upload {
  fileName: string;
  contentSize: number;
  origSize: number;
  totalPackets: number;
  nextPacket: number;
  received: number;
  decipher: Decipher;
  chunks: Buffer[];
}

interface ClientRecord {
  name: string;
  id: Uint8Array;
  publicKey?: Uint8Array;
}

/** The connection as the fake server sees it: bytes in, responses out via `write`. */
export interface FakeConnection {
  /** Feed request bytes from the client. */
  push(bytes: Uint8Array): void;
  /** The client went away. */
  end(): void;
}

export class FakeServer {
  knobs: FakeServerKnobs;
  readonly clients = new Map<string, ClientRecord>();
  /** Completed uploads by `client/file`, verified or not yet. */
  readonly files = new Map<string, StoredFile>();
  readonly log: LoggedRequest[] = [];
  /** Sequences the server rejected (wrong numbering or sizes): empty when the client behaved. */
  readonly violations: string[] = [];
  connections = 0;
  closedConnections = 0;

  constructor(knobs: FakeServerKnobs = {}) {
    this.knobs = knobs;
  }

  /** An in-memory Transport connected to this server. */
  connect(): Transport & { readonly isClosed: boolean } {
    return new MemoryTransport((write, close) => this.accept(write, close));
  }

  /** Accepts a connection whose responses go to `write`; `close` ends it from the server side. */
  accept(write: (bytes: Uint8Array) => void, close: () => void): FakeConnection {
    this.connections++;
    const decoder = new RequestDecoder();
    const joiner = new FrameJoiner();
    let aesKey: Uint8Array | null = null;
    let upload: Upload | null = null;
    let open = true;
    const shut = (): void => {
      if (!open) return;
      open = false;
      this.closedConnections++;
      close();
    };
    let silent = false;
    const send = (res: Response | Uint8Array): void => {
      if (!open || silent) return;
      const bytes = res instanceof Uint8Array ? res : encodeResponse(res);
      if (this.knobs.splitResponses) for (let i = 0; i < bytes.length; i++) write(bytes.subarray(i, i + 1));
      else write(bytes);
    };
    const handle = (req: Request) => {
      const k = this.knobs;
      const entry: LoggedRequest = { code: req.code, clientId: clientIdToHex(req.clientId) };
      if (req.code === RequestCode.SendFile) {
        Object.assign(entry, {
          packetNumber: req.packetNumber,
          totalPackets: req.totalPackets,
          contentSize: req.contentSize,
          origSize: req.origSize,
          contentLength: req.content.length,
        });
      }
      this.log.push(entry);
      silent = k.noAnswerTo === req.code;
      const packet = req.code === RequestCode.SendFile ? req.packetNumber : 0;
      const lastPacket = req.code === RequestCode.SendFile && req.packetNumber === req.totalPackets;
      if (
        k.closeOn === req.code &&
        (req.code !== RequestCode.SendFile || packet === (k.closeAtPacket ?? 1))
      ) {
        return shut();
      }
      if (k.serverErrorOn?.includes(req.code)) {
        const at = k.errorAtPacket;
        if (req.code !== RequestCode.SendFile || (at === undefined ? lastPacket : packet === at)) {
          upload = null;
          return send({ code: ResponseCode.ServerError });
        }
      }
      if (k.garbageOn === req.code) return send(new Uint8Array([9, 9, 9, 9, 9, 9, 9]));
      const wrong = k.answerWith?.[req.code];
      if (wrong !== undefined && (req.code !== RequestCode.SendFile || lastPacket)) {
        return send(anyResponse(wrong, req.clientId));
      }
      switch (req.code) {
        case RequestCode.Register: {
          if (k.refuseRegistration || this.clients.has(req.name))
            return send({ code: ResponseCode.RegisterFailed });
          const id = new Uint8Array(randomBytes(CLIENT_ID_SIZE));
          this.clients.set(req.name, { name: req.name, id });
          return send({ code: ResponseCode.Registered, clientId: id });
        }
        case RequestCode.SendPublicKey: {
          const client = this.clients.get(req.name);
          if (!client || !clientIdEquals(client.id, req.clientId))
            return send({ code: ResponseCode.ServerError });
          client.publicKey = req.publicKey;
          aesKey = new Uint8Array(randomBytes(AES_KEY_SIZE));
          return send({
            code: ResponseCode.PublicKeyAccepted,
            clientId: client.id,
            encryptedKey: wrap(client, aesKey),
          });
        }
        case RequestCode.Reconnect: {
          const client = this.clients.get(req.name);
          if (k.rejectReconnect || !client?.publicKey || !clientIdEquals(client.id, req.clientId)) {
            return send({ code: ResponseCode.ReconnectRejected, clientId: req.clientId });
          }
          aesKey = new Uint8Array(randomBytes(AES_KEY_SIZE));
          return send({
            code: ResponseCode.Reconnected,
            clientId: client.id,
            encryptedKey: wrap(client, aesKey),
          });
        }
        case RequestCode.SendFile: {
          if (!aesKey) return send({ code: ResponseCode.ServerError });
          if (!upload) {
            if (req.packetNumber > 1) return this.#violation(`sequence starts at ${req.packetNumber}`, send);
            upload = {
              fileName: req.fileName,
              contentSize: req.contentSize,
              origSize: req.origSize,
              totalPackets: req.totalPackets,
              nextPacket: req.packetNumber + 1,
              received: 0,
              decipher: createDecipheriv('aes-256-cbc', aesKey, ZERO_IV),
              chunks: [],
            };
          } else {
            const u = upload;
            if (
              req.packetNumber !== u.nextPacket ||
              req.fileName !== u.fileName ||
              req.contentSize !== u.contentSize ||
              req.origSize !== u.origSize ||
              req.totalPackets !== u.totalPackets
            ) {
              upload = null;
              return this.#violation(`packet ${req.packetNumber} does not continue the sequence`, send);
            }
            u.nextPacket++;
          }
          const u = upload;
          const take = Math.min(req.content.length, u.contentSize - u.received);
          u.received += take;
          u.chunks.push(u.decipher.update(req.content.subarray(0, take)));
          if (req.packetNumber !== u.totalPackets) return;
          upload = null;
          if (u.received !== u.contentSize) return this.#violation('content shorter than Content size', send);
          let bytes: Buffer;
          try {
            u.chunks.push(u.decipher.final());
            bytes = Buffer.concat(u.chunks);
          } catch {
            return this.#violation('bad padding', send);
          }
          if (bytes.length !== u.origSize)
            return this.#violation('plaintext size differs from Orig size', send);
          let cksum = new Cksum().update(bytes).digest();
          const clientName = this.#nameOf(req.clientId);
          this.files.set(`${clientName}/${u.fileName}`, {
            clientName,
            fileName: u.fileName,
            bytes: new Uint8Array(bytes),
            cksum,
            verified: false,
          });
          if ((k.wrongCrcTimes ?? 0) > 0) {
            k.wrongCrcTimes = (k.wrongCrcTimes ?? 0) - 1;
            cksum = (cksum ^ 0x5a5a) >>> 0;
          }
          return send({
            code: ResponseCode.FileReceived,
            clientId: req.clientId,
            contentSize: u.contentSize,
            fileName: u.fileName,
            cksum,
          });
        }
        case RequestCode.CrcOk:
        case RequestCode.CrcRetry:
        case RequestCode.CrcAbort: {
          const key = `${this.#nameOf(req.clientId)}/${req.fileName}`;
          const file = this.files.get(key);
          if (req.code === RequestCode.CrcOk && file) file.verified = true;
          else this.files.delete(key);
          if (req.code === RequestCode.CrcRetry && !k.thanksForRetry) return;
          return send({ code: ResponseCode.Thanks, clientId: req.clientId });
        }
      }
    };
    return {
      push: (bytes) => {
        if (!open) return;
        try {
          for (const frame of joiner.push(decoder.push(bytes))) {
            handle(decodeRequest(frame.header, frame.payload));
            if (!open) return;
          }
        } catch (e) {
          this.violations.push(`framing: ${e instanceof Error ? e.message : String(e)}`);
          send({ code: ResponseCode.ServerError });
          shut();
        }
      },
      end: () => {
        if (open) {
          open = false;
          this.closedConnections++;
        }
      },
    };
  }

  #nameOf(clientId: Uint8Array): string {
    for (const c of this.clients.values()) if (clientIdEquals(c.id, clientId)) return c.name;
    return `unknown-${clientIdToHex(clientId)}`;
  }

  #violation(what: string, send: (r: Response) => void): void {
    this.violations.push(what);
    send({ code: ResponseCode.ServerError });
  }
}

/** RSA-OAEP/SHA-1 wrap with Node's crypto, as the Python reference servers do. */
function wrap(client: ClientRecord, aesKey: Uint8Array): Uint8Array {
  const out = publicEncrypt(
    {
      key: createPublicKey({ key: Buffer.from(client.publicKey!), format: 'der', type: 'spki' }),
      padding: cryptoConstants.RSA_PKCS1_OAEP_PADDING,
      oaepHash: 'sha1',
    },
    aesKey,
  );
  return new Uint8Array(out);
}

/** A well-formed frame with response code `code` and plausible fields. */
function anyResponse(code: number, clientId: Uint8Array): Uint8Array {
  switch (code) {
    case ResponseCode.Registered:
    case ResponseCode.Thanks:
    case ResponseCode.ReconnectRejected:
      return encodeResponse({ code, clientId });
    case ResponseCode.PublicKeyAccepted:
    case ResponseCode.Reconnected:
      return encodeResponse({ code, clientId, encryptedKey: new Uint8Array(ENCRYPTED_AES_KEY_SIZE) });
    case ResponseCode.FileReceived:
      return encodeResponse({ code, clientId, contentSize: 16, fileName: 'x', cksum: 1 });
    case ResponseCode.RegisterFailed:
    case ResponseCode.ServerError:
      return encodeResponse({ code });
    default:
      return encodeResponseHeader({ version: PROTOCOL_VERSION, code, payloadSize: 0 });
  }
}
