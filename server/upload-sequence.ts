/**
 * The packet bookkeeping of one 1028 file, pure (no I/O): numbering, sizes that must stay
 * the same in every packet, and how much of each packet's content belongs to the file.
 */
import { ciphertextSize, MAX_PACKETS } from '../lib/protocol';
import { ServerError } from './errors';

export interface PacketFields {
  contentSize: number;
  origSize: number;
  packetNumber: number;
  totalPackets: number;
  fileName: string;
}

export interface SequenceLimits {
  /** Largest original file size accepted. */
  maxFileSize: number;
  /** Most content bytes one packet can carry (the payload limit minus the fixed part). */
  maxContentPerPacket: number;
}

export interface Accepted {
  /** Leading content bytes of this packet that belong to the file (the rest is padding). */
  take: number;
  /** This was the last packet. */
  last: boolean;
}

export class PacketSequence {
  /** Number of the first packet: 1 per the spec, 0 for clients that count from 0. */
  readonly base: number;
  /** Packets accepted so far. */
  count = 0;
  /** Ciphertext bytes accepted so far. */
  received = 0;

  private constructor(readonly first: Readonly<PacketFields>) {
    this.base = first.packetNumber;
  }

  /** Checks the first packet's declared sizes; throws ServerError SERVER_ERR_UPLOAD_*. */
  static start(first: PacketFields, limits: SequenceLimits): PacketSequence {
    const { contentSize, origSize, packetNumber, totalPackets } = first;
    if (packetNumber !== 0 && packetNumber !== 1) {
      throw new ServerError(
        'SERVER_ERR_UPLOAD_SEQUENCE',
        `A file starts with packet 1 (or 0); got packet ${packetNumber} with no file in progress.`,
      );
    }
    if (origSize > limits.maxFileSize) {
      throw new ServerError(
        'SERVER_ERR_UPLOAD_SIZE',
        `The file is ${origSize} bytes; this server accepts at most ${limits.maxFileSize}.`,
      );
    }
    if (contentSize !== ciphertextSize(origSize)) {
      throw new ServerError(
        'SERVER_ERR_UPLOAD_SIZE',
        `Content size ${contentSize} does not match AES-CBC of ${origSize} bytes (${ciphertextSize(origSize)}).`,
      );
    }
    if (totalPackets < 1 || totalPackets > MAX_PACKETS || totalPackets > contentSize) {
      throw new ServerError(
        'SERVER_ERR_UPLOAD_SIZE',
        `${totalPackets} packets cannot carry ${contentSize} bytes of content.`,
      );
    }
    if (totalPackets * limits.maxContentPerPacket < contentSize) {
      throw new ServerError(
        'SERVER_ERR_UPLOAD_SIZE',
        `${totalPackets} packets of at most ${limits.maxContentPerPacket} bytes cannot carry ${contentSize} bytes.`,
      );
    }
    return new PacketSequence({ ...first });
  }

  /** Packet number expected next. */
  get nextNumber(): number {
    return this.base + this.count;
  }

  /** Validates the next packet (the first one included) and accounts for its content. */
  accept(p: PacketFields, contentLength: number): Accepted {
    const f = this.first;
    if (
      p.contentSize !== f.contentSize ||
      p.origSize !== f.origSize ||
      p.totalPackets !== f.totalPackets ||
      p.fileName !== f.fileName
    ) {
      throw new ServerError(
        'SERVER_ERR_UPLOAD_INCONSISTENT',
        `Packet ${p.packetNumber} changes the file's name, sizes or packet total; every packet must repeat them.`,
      );
    }
    if (p.packetNumber !== this.nextNumber) {
      throw new ServerError(
        'SERVER_ERR_UPLOAD_SEQUENCE',
        `Expected packet ${this.nextNumber} of "${f.fileName}", got ${p.packetNumber}.`,
      );
    }
    const take = Math.min(contentLength, f.contentSize - this.received);
    this.count++;
    this.received += take;
    const last = this.count === f.totalPackets;
    if (last && this.received !== f.contentSize) {
      throw new ServerError(
        'SERVER_ERR_UPLOAD_SIZE',
        `The last packet arrived after ${this.received} of ${f.contentSize} content bytes.`,
      );
    }
    return { take, last };
  }
}
