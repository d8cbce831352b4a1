/**
 * Cuts one file's ciphertext into 1028 packets (docs/PROTOCOL.md "1028 in detail")
 * without copying it: a packet is its 290-byte prefix followed by slices of the ciphertext
 * chunks as the encryptor produced them.
 */
import { AES_BLOCK_SIZE, DEFAULT_PACKET_SIZE, encodeSendFilePrefix, MAX_PACKETS } from '../protocol';
import { ClientError } from './errors';

/**
 * Packet size for a file of `contentSize` ciphertext bytes: `preferred`, unless that would
 * need more than 65535 packets; then the smallest multiple of 16 that fits.
 */
export function choosePacketSize(contentSize: number, preferred: number = DEFAULT_PACKET_SIZE): number {
  const min = Math.ceil(contentSize / MAX_PACKETS);
  if (preferred >= min) return preferred;
  return Math.ceil(min / AES_BLOCK_SIZE) * AES_BLOCK_SIZE;
}

export interface PacketiserOptions {
  clientId: Uint8Array;
  fileName: string;
  /** Plaintext bytes of the file. */
  origSize: number;
  /** Ciphertext bytes of the file (what the encryptor must produce in all). */
  contentSize: number;
  /** Preferred content bytes per packet (raised by choosePacketSize when needed). */
  packetSize: number;
  /**
   * Zero-pad the last packet to the full packet size, as the reference C++ client does (the
   * urihor Python server refuses any other shape for files of more than one packet).
   */
  padLast?: boolean;
  /** Called before each packet is sent, with its number: throw to stop the sequence. */
  beforePacket(packetNumber: number): void;
  /** Sends one packet's parts (prefix first); resolves when more may be sent. */
  send(parts: Uint8Array[]): Promise<void>;
}

export class Packetiser {
  readonly packetSize: number;
  readonly totalPackets: number;
  readonly #o: PacketiserOptions;
  #parts: Uint8Array[] = [];
  #fill = 0;
  #packetNumber = 0;
  #bytesSent = 0;

  constructor(opts: PacketiserOptions) {
    this.#o = opts;
    this.packetSize = choosePacketSize(opts.contentSize, opts.packetSize);
    this.totalPackets = Math.ceil(opts.contentSize / this.packetSize);
  }

  /** Packets sent so far. */
  get packetsSent(): number {
    return this.#packetNumber;
  }

  /** Ciphertext bytes in the packets sent so far. */
  get bytesSent(): number {
    return this.#bytesSent;
  }

  /** Adds ciphertext; sends each packet as soon as it is full. */
  async push(ciphertext: Uint8Array): Promise<void> {
    const size = this.packetSize;
    let off = 0;
    while (off < ciphertext.length) {
      const take = Math.min(size - this.#fill, ciphertext.length - off);
      this.#parts.push(take === ciphertext.length ? ciphertext : ciphertext.subarray(off, off + take));
      this.#fill += take;
      off += take;
      if (this.#fill === size) await this.#flush();
    }
  }

  /** Sends the last, shorter packet if any; checks that exactly the announced ciphertext went out. */
  async end(): Promise<void> {
    if (this.#fill > 0) await this.#flush();
    if (this.#packetNumber !== this.totalPackets || this.#bytesSent !== this.#o.contentSize) {
      throw new ClientError(
        'CLIENT_ERR_SOURCE',
        `The encryptor produced ${this.#bytesSent} bytes of ciphertext for "${this.#o.fileName}", expected ${this.#o.contentSize}.`,
      );
    }
  }

  async #flush(): Promise<void> {
    const o = this.#o;
    const packetNumber = this.#packetNumber + 1;
    o.beforePacket(packetNumber);
    if (packetNumber > this.totalPackets) {
      throw new ClientError(
        'CLIENT_ERR_SOURCE',
        `The encryptor produced more than the ${o.contentSize} bytes of ciphertext expected for "${o.fileName}".`,
      );
    }
    // Only a file of several packets: a one-packet file is sent as the reference client sends it, unpadded.
    const pad =
      o.padLast && packetNumber === this.totalPackets && this.totalPackets > 1
        ? this.packetSize - this.#fill
        : 0;
    const prefix = encodeSendFilePrefix(
      {
        clientId: o.clientId,
        contentSize: o.contentSize,
        origSize: o.origSize,
        packetNumber,
        totalPackets: this.totalPackets,
        fileName: o.fileName,
      },
      pad > 0 ? this.packetSize : this.#fill,
    );
    const parts = this.#parts;
    parts.unshift(prefix);
    if (pad > 0) parts.push(new Uint8Array(pad));
    this.#parts = [];
    this.#packetNumber = packetNumber;
    this.#bytesSent += this.#fill;
    this.#fill = 0;
    await o.send(parts);
  }
}
