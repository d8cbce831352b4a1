/** Encrypts one file as a stream; `final` returns the rest including the PKCS#7 block. */
export interface StreamEncryptor {
  update(chunk: Uint8Array): Promise<Uint8Array> | Uint8Array;
  final(): Promise<Uint8Array> | Uint8Array;
}

/** Makes a fresh AES-256-CBC (zero IV) encryptor for the 32-byte key. */
export type EncryptorFactory = (aesKey: Uint8Array) => Promise<StreamEncryptor> | StreamEncryptor;

/** A file to send: its plaintext size and a way to read it from the start (once per attempt). */
export interface FileSource {
  name: string;
  size: number;
  /**
   * The file's bytes from the start, as a fresh iteration each call. A chunk belongs to the
   * consumer only until it asks for the next one: a source may read the next chunk into the
   * same memory (the session hashes and hands each chunk to the encryptor, which copies or
   * takes it, before asking for more).
   */
  open(): AsyncIterable<Uint8Array>;
}

export type SendPhase = 'sending' | 'verifying' | 'verified' | 'retrying' | 'failed' | 'cancelled';

export interface SendProgress {
  fileName: string;
  phase: SendPhase;
  /** 1..4 */
  attempt: number;
  /** Plaintext bytes read in this attempt. */
  bytesRead: number;
  /** Ciphertext bytes handed to the transport in this attempt. */
  bytesSent: number;
  /** Plaintext size of the file. */
  size: number;
}

export interface SendResult {
  fileName: string;
  size: number;
  /** Our cksum of the plaintext. */
  cksum: number;
  /** What the server reported in the last 1603. */
  serverCksum: number;
  verified: boolean;
  attempts: number;
}
