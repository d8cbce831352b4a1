/**
 * The client side of protocol v3 over an injected Transport: register, key exchange,
 * reconnect, and sending files with CRC verification and retries (docs/PROTOCOL.md).
 * Sans-I/O apart from the transport; runs unchanged in Node and in browsers.
 */
import { Cksum, ciphertextSize } from '../crypto';
import {
  DEFAULT_PACKET_SIZE,
  decodeResponse,
  EMPTY_CLIENT_ID,
  encodeRequest,
  MAX_CLIENT_NAME_LENGTH,
  MAX_FILE_NAME_LENGTH,
  MAX_FILE_SIZE,
  MAX_SEND_ATTEMPTS,
  type Request,
  RequestCode,
  type Response,
  ResponseCode,
  type ResponseFrame,
  ResponseFrameDecoder,
  validateName,
} from '../protocol';
import { ClientError } from './errors';
import { Packetiser } from './packetiser';
import { readSource, sourceSizeError } from './read-source';
import {
  cancelled,
  connectionClosed,
  type EarlyAnswer,
  earlyAnswerError,
  invalidName,
  protocolError,
  unreachable,
} from './session-errors';
import type { Transport } from './transport';
import type { EncryptorFactory, FileSource, SendPhase, SendProgress, SendResult } from './types';

/** Plaintext bytes encrypted per step: bounds latency and memory when a source yields huge chunks. */
export const ENCRYPT_SLICE_SIZE = 1024 * 1024;

export { choosePacketSize } from './packetiser';

export interface ClientSessionOptions {
  transport: Transport;
  encryptorFactory: EncryptorFactory;
  /** Ciphertext bytes per 1028 packet; raised for files that would need more than 65535 packets. */
  packetSize?: number;
  /** Zero-pad each file's last packet to the packet size (the reference client's shape, for foreign servers). */
  padLastPacket?: boolean;
}

export interface SendFileOptions {
  onProgress?(p: SendProgress): void;
  /** Aborting stops the upload and closes the connection (a half-sent file cannot be resumed). */
  signal?: AbortSignal;
  /** Attempts in all before giving up with 1031; the protocol says 4. */
  maxAttempts?: number;
}

export class ClientSession {
  readonly #transport: Transport;
  readonly #encryptorFactory: EncryptorFactory;
  readonly #packetSize: number;
  readonly #padLast: boolean;
  readonly #decoder = new ResponseFrameDecoder();
  readonly #frames: ResponseFrame[] = [];
  #clientId: Uint8Array = EMPTY_CLIENT_ID;
  /** Set once the connection is unusable; every later call throws it. */
  #dead: ClientError | null = null;
  /** The read of the answer to the current 1028 sequence, started before its first packet. */
  #pendingAnswer: Promise<Response> | null = null;

  constructor(opts: ClientSessionOptions) {
    this.#transport = opts.transport;
    this.#encryptorFactory = opts.encryptorFactory;
    const size = opts.packetSize ?? DEFAULT_PACKET_SIZE;
    if (!Number.isSafeInteger(size) || size < 1) throw new RangeError(`Invalid packet size ${size}.`);
    this.#packetSize = size;
    this.#padLast = opts.padLastPacket ?? false;
  }

  /** The client ID sent in request headers: zeros until register() or reconnect(). */
  get clientId(): Uint8Array {
    return this.#clientId;
  }

  /** True once a fatal error or cancellation has closed the connection. */
  get closed(): boolean {
    return this.#dead !== null;
  }

  /** Closes the connection; later calls throw CLIENT_ERR_SESSION_CLOSED. */
  close(): void {
    this.#kill(
      new ClientError('CLIENT_ERR_SESSION_CLOSED', 'The session was closed; open a new connection.'),
    );
  }

  /** 1025 -> 1600 (returns the new client ID) | 1601 (CLIENT_ERR_NAME_TAKEN). */
  async register(name: string): Promise<Uint8Array> {
    checkClientName(name);
    const res = await this.#exchange({ code: RequestCode.Register, clientId: EMPTY_CLIENT_ID, name }, [
      ResponseCode.Registered,
      ResponseCode.RegisterFailed,
    ]);
    if (res.code === ResponseCode.RegisterFailed) {
      throw new ClientError(
        'CLIENT_ERR_NAME_TAKEN',
        `The server refused to register the name "${name}": it is already taken or not allowed. Choose another name.`,
        { requestCode: RequestCode.Register, responseCode: res.code },
      );
    }
    if (res.code !== ResponseCode.Registered) throw unreachable(res);
    this.#clientId = res.clientId;
    return res.clientId;
  }

  /** 1026 -> 1602: sends the 160-byte SPKI, returns the AES key wrapped with it. */
  async sendPublicKey(name: string, publicKeySpki: Uint8Array): Promise<Uint8Array> {
    checkClientName(name);
    const res = await this.#exchange(
      { code: RequestCode.SendPublicKey, clientId: this.#clientId, name, publicKey: publicKeySpki },
      [ResponseCode.PublicKeyAccepted],
    );
    if (res.code !== ResponseCode.PublicKeyAccepted) throw unreachable(res);
    return res.encryptedKey;
  }

  /** 1027 -> 1605 (accepted, with a wrapped AES key) | 1606 (rejected: register anew). */
  async reconnect(
    name: string,
    clientId: Uint8Array,
  ): Promise<{ accepted: true; encryptedKey: Uint8Array } | { accepted: false }> {
    checkClientName(name);
    this.#clientId = clientId;
    const res = await this.#exchange({ code: RequestCode.Reconnect, clientId, name }, [
      ResponseCode.Reconnected,
      ResponseCode.ReconnectRejected,
    ]);
    if (res.code === ResponseCode.ReconnectRejected) {
      this.#clientId = EMPTY_CLIENT_ID;
      return { accepted: false };
    }
    if (res.code !== ResponseCode.Reconnected) throw unreachable(res);
    return { accepted: true, encryptedKey: res.encryptedKey };
  }

  /**
   * Sends one file: 1028 x N -> 1603; CRC equal -> 1029 -> 1604; else 1030 and again, up to
   * `maxAttempts` in all, then 1031 -> 1604 and CLIENT_ERR_CRC_MISMATCH. The session stays
   * usable after success or CRC_MISMATCH; any other failure closes the connection.
   */
  async sendFile(source: FileSource, aesKey: Uint8Array, opts: SendFileOptions = {}): Promise<SendResult> {
    this.#checkAlive();
    const { signal, onProgress } = opts;
    const maxAttempts = opts.maxAttempts ?? MAX_SEND_ATTEMPTS;
    const { name: fileName, size } = source;
    try {
      validateName(fileName, MAX_FILE_NAME_LENGTH);
    } catch (cause) {
      throw invalidName(`The file name "${fileName}"`, cause);
    }
    if (!Number.isSafeInteger(size) || size < 0) {
      throw new ClientError(
        'CLIENT_ERR_SOURCE',
        `The file "${fileName}" declares an invalid size (${size}).`,
      );
    }
    if (size > MAX_FILE_SIZE) {
      throw new ClientError(
        'CLIENT_ERR_FILE_TOO_LARGE',
        `The file "${fileName}" is ${size} bytes; protocol v3 can send at most ${MAX_FILE_SIZE} bytes (4 GiB). Split it first.`,
      );
    }
    if (signal?.aborted) throw cancelled(fileName);

    const progress: SendProgress = {
      fileName,
      phase: 'sending',
      attempt: 1,
      bytesRead: 0,
      bytesSent: 0,
      size,
    };
    const report = (phase: SendPhase): void => {
      progress.phase = phase;
      onProgress?.({ ...progress });
    };
    const onAbort = (): void => this.#transport.close();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      for (let attempt = 1; ; attempt++) {
        progress.attempt = attempt;
        progress.bytesRead = 0;
        progress.bytesSent = 0;
        report('sending');
        const ours = await this.#sendAttempt(source, aesKey, attempt, progress, report, signal);
        report('verifying');
        const res = await this.#pendingAnswer!;
        this.#pendingAnswer = null;
        const fileReceived = this.#expect(res, RequestCode.SendFile, [ResponseCode.FileReceived]);
        if (fileReceived.code !== ResponseCode.FileReceived) throw unreachable(fileReceived);
        const serverCksum = fileReceived.cksum;
        if (serverCksum === ours) {
          await this.#exchange({ code: RequestCode.CrcOk, clientId: this.#clientId, fileName }, [
            ResponseCode.Thanks,
          ]);
          report('verified');
          return { fileName, size, cksum: ours, serverCksum, verified: true, attempts: attempt };
        }
        if (attempt < maxAttempts) {
          // 1030 has no response: the next 1028 sequence follows directly.
          await this.#send({ code: RequestCode.CrcRetry, clientId: this.#clientId, fileName });
          report('retrying');
          continue;
        }
        await this.#exchange({ code: RequestCode.CrcAbort, clientId: this.#clientId, fileName }, [
          ResponseCode.Thanks,
        ]);
        report('failed');
        throw new ClientError(
          'CLIENT_ERR_CRC_MISMATCH',
          `The server's CRC of "${fileName}" (${serverCksum}) differed from ours (${ours}) on all ${attempt} attempts; ` +
            'the data is being corrupted on the way. The server discarded the file; check the network and try again.',
          { attempts: attempt, cksum: ours, serverCksum },
        );
      }
    } catch (e) {
      this.#pendingAnswer = null;
      if (signal?.aborted) {
        this.#kill(cancelled(fileName));
        report('cancelled');
        throw cancelled(fileName);
      }
      if (e instanceof ClientError && e.code === 'CLIENT_ERR_CRC_MISMATCH') throw e;
      // Anything else leaves a half-sent or unanswered sequence on the wire: unusable.
      this.#kill(e instanceof ClientError ? e : new ClientError('CLIENT_ERR_SESSION_CLOSED', String(e)));
      throw e;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /**
   * One 1028 sequence: reads the source through cksum and the encryptor; the Packetiser
   * cuts the ciphertext into packets without copying and sends them.
   * Returns our cksum; the server's answer is left in #pendingAnswer.
   */
  async #sendAttempt(
    source: FileSource,
    aesKey: Uint8Array,
    attempt: number,
    progress: SendProgress,
    report: (phase: SendPhase) => void,
    signal: AbortSignal | undefined,
  ): Promise<number> {
    const { name: fileName, size } = source;
    const encryptor = await this.#encryptorFactory(aesKey);
    const cksum = new Cksum();

    // Read the answer concurrently, so a 1607 sent mid-sequence stops us early.
    let early: EarlyAnswer | null = null;
    const answer = this.#readFileAnswer(attempt > 1).then(
      (value) => {
        early = { ok: true, value };
        return value;
      },
      (error: unknown) => {
        early = { ok: false, error };
        throw error;
      },
    );
    answer.catch(() => {}); // awaited (or abandoned on failure) by sendFile
    this.#pendingAnswer = answer;

    const packets: Packetiser = new Packetiser({
      clientId: this.#clientId,
      fileName,
      origSize: size,
      contentSize: ciphertextSize(size),
      packetSize: this.#packetSize,
      padLast: this.#padLast,
      beforePacket: (n) => {
        if (early) throw earlyAnswerError(early, n - 1, packets.totalPackets);
        if (signal?.aborted) throw cancelled(fileName);
      },
      send: async (parts) => {
        progress.bytesSent = packets.bytesSent;
        try {
          await this.#transport.send(parts);
        } catch (cause) {
          throw this.#kill(connectionClosed(RequestCode.SendFile, cause));
        }
      },
    });

    for await (const chunk of readSource(source)) {
      const length = chunk.length;
      for (let at = 0; at < length; at += ENCRYPT_SLICE_SIZE) {
        if (signal?.aborted) throw cancelled(fileName);
        const slice = length <= ENCRYPT_SLICE_SIZE ? chunk : chunk.subarray(at, at + ENCRYPT_SLICE_SIZE);
        progress.bytesRead += slice.length;
        if (progress.bytesRead > size) throw sourceSizeError(fileName, size, `more than ${size}`);
        cksum.update(slice);
        await packets.push(await encryptor.update(slice));
        report('sending');
      }
    }
    if (progress.bytesRead !== size) throw sourceSizeError(fileName, size, String(progress.bytesRead));
    await packets.push(await encryptor.final());
    await packets.end();
    report('sending');
    return cksum.digest();
  }

  /**
   * The answer to a 1028 sequence. After a 1030 (`afterRetry`), a 1604 is skipped: the
   * protocol gives 1030 no response, but some servers acknowledge it anyway.
   */
  async #readFileAnswer(afterRetry: boolean): Promise<Response> {
    const res = await this.#readResponse(RequestCode.SendFile);
    if (afterRetry && res.code === ResponseCode.Thanks) return this.#readResponse(RequestCode.SendFile);
    return res;
  }

  /** Sends one request and reads its answer, which must have one of `expected` codes. */
  async #exchange(req: Request, expected: readonly number[]): Promise<Response> {
    await this.#send(req);
    return this.#expect(await this.#readResponse(req.code), req.code, expected);
  }

  async #send(req: Request): Promise<void> {
    this.#checkAlive();
    try {
      await this.#transport.send([encodeRequest(req)]);
    } catch (cause) {
      throw this.#kill(connectionClosed(req.code, cause));
    }
  }

  /** 1607 -> SERVER_ERROR (connection stays usable); any other unexpected code is fatal. */
  #expect(res: Response, requestCode: number, expected: readonly number[]): Response {
    if (expected.includes(res.code)) return res;
    if (res.code === ResponseCode.ServerError) {
      throw new ClientError(
        'CLIENT_ERR_SERVER_ERROR',
        `The server reported an error (1607) in answer to request ${requestCode}. Check the server's log, then try again.`,
        { requestCode, responseCode: res.code },
      );
    }
    throw this.#kill(
      new ClientError(
        'CLIENT_ERR_UNEXPECTED_RESPONSE',
        `The server answered request ${requestCode} with code ${res.code}, expected ${expected.join(' or ')}. ` +
          'It may speak a different protocol version; the connection was closed.',
        { requestCode, responseCode: res.code },
      ),
    );
  }

  /** Next decoded response; CONNECTION_CLOSED on end of stream, PROTOCOL on malformed bytes. */
  async #readResponse(requestCode: number): Promise<Response> {
    while (this.#frames.length === 0) {
      this.#checkAlive();
      let chunk: Uint8Array | null;
      try {
        chunk = await this.#transport.receive();
      } catch (cause) {
        throw this.#kill(connectionClosed(requestCode, cause));
      }
      if (chunk === null) throw this.#kill(connectionClosed(requestCode));
      try {
        this.#frames.push(...this.#decoder.push(chunk));
      } catch (cause) {
        throw this.#kill(protocolError(requestCode, cause));
      }
    }
    const frame = this.#frames.shift()!;
    try {
      return decodeResponse(frame.header, frame.payload);
    } catch (cause) {
      throw this.#kill(protocolError(requestCode, cause));
    }
  }

  #checkAlive(): void {
    if (this.#dead) {
      throw new ClientError(
        'CLIENT_ERR_SESSION_CLOSED',
        `This connection is no longer usable (${this.#dead.message}) Open a new one.`,
        {},
        { cause: this.#dead },
      );
    }
  }

  /** Marks the session dead (first cause wins), closes the transport, returns `err`. */
  #kill(err: ClientError): ClientError {
    if (!this.#dead) {
      this.#dead = err;
      this.#transport.close();
    }
    return err;
  }
}

function checkClientName(name: string): void {
  try {
    validateName(name, MAX_CLIENT_NAME_LENGTH);
  } catch (cause) {
    throw invalidName(`The client name "${name}"`, cause);
  }
}
