/**
 * An established v4 session: Sealed frames both ways under the session keys, and the
 * binding that file streams derive their keys from.
 */
import { MessageType } from '../protocol/v4/constants';
import { decodeMessage, encodeMessage, type Message } from '../protocol/v4/messages';
import { V4Error } from './errors';
import type { SessionKeys } from './key-schedule';
import { RecordOpener, RecordSealer } from './record-layer';

export type Role = 'client' | 'server';

export class Session {
  readonly binding: Uint8Array;
  readonly #sealer: RecordSealer;
  readonly #opener: RecordOpener;

  constructor(keys: SessionKeys, role: Role) {
    this.binding = keys.binding;
    this.#sealer = new RecordSealer(role === 'client' ? keys.client : keys.server);
    this.#opener = new RecordOpener(role === 'client' ? keys.server : keys.client);
  }

  /** The Sealed frame carrying `message` (call in sending order). */
  seal(message: Message): Promise<Uint8Array> {
    return this.#sealer.seal(encodeMessage(message));
  }

  /** The message of a received Sealed body (call in receiving order). */
  async open(body: Uint8Array): Promise<Message> {
    return decodeMessage(await this.#opener.open(body));
  }
}

/** Throws the peer's fatal Error as a V4Error carrying its code. */
export function throwIfPeerError(m: Message): void {
  if (m.type === MessageType.Error && m.fatal)
    throw new V4Error('V4_ERR_PEER', m.reason || `Error ${m.code}`, { wireCode: m.code });
}
