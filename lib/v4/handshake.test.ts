/**
 * The handshake state machines against each other in memory: success, the pin, a man in
 * the middle with another server key, a client key without its private key, tampering of
 * every handshake frame, and the Sealed record layer after it.
 */
import { describe, expect, it } from 'vitest';
import {
  CLIENT_TO_SERVER_FRAMES,
  FrameType,
  MessageType,
  SERVER_TO_CLIENT_FRAMES,
} from '../protocol/v4/constants';
import { FrameDecoder } from '../protocol/v4/frame-decoder';
import type { Frame } from '../protocol/v4/frames';
import { V4Error } from './errors';
import { ClientHandshake, type ClientHandshakeOptions, ServerHandshake } from './handshake';
import { generateSigningKey, type KeyPairWithRaw } from './keys';

const serverKey = await generateSigningKey(false);
const clientKey = await generateSigningKey(false);

type Tamper = (where: 'server-flight' | 'client-auth', bytes: Uint8Array) => Uint8Array;

async function run(opts: {
  server?: KeyPairWithRaw;
  client?: Partial<ClientHandshakeOptions>;
  tamper?: Tamper;
}) {
  const server = new ServerHandshake({ identity: opts.server ?? serverKey });
  const client = new ClientHandshake({
    identity: clientKey,
    name: 'alice',
    checkServerKey: () => {},
    ...opts.client,
  });
  const tamper: Tamper = opts.tamper ?? ((_w, b) => b);
  const toServer = new FrameDecoder({ allowed: CLIENT_TO_SERVER_FRAMES, preamble: true });
  const toClient = new FrameDecoder({ allowed: SERVER_TO_CLIENT_FRAMES });
  const [hello] = toServer.push(await client.start());
  const flight = tamper('server-flight', (await server.onFrame(hello!)).send!);
  let clientAuth: Uint8Array | undefined;
  for (const f of toClient.push(flight)) clientAuth = (await client.onFrame(f)).send ?? clientAuth;
  const [auth] = toServer.push(tamper('client-auth', clientAuth!));
  const s = (await server.onFrame(auth!)).done!;
  const welcome = await s.session.seal({
    type: MessageType.Welcome,
    clientId: new Uint8Array(16),
    registered: true,
    maxFileSize: 1,
  });
  const [w] = toClient.push(welcome);
  const c = (await client.onFrame(w!)).done!;
  return { s, c, toServer, toClient };
}

describe('v4 handshake', () => {
  it('establishes one session both ways and proves both keys', async () => {
    const { s, c, toServer, toClient } = await run({});
    expect(s.clientAuth.clientKey).toEqual(clientKey.publicRaw);
    expect(s.clientAuth.name).toBe('alice');
    expect(c.serverKey).toEqual(serverKey.publicRaw);
    expect(c.session.binding).toEqual(s.session.binding);
    const up = toServer.push(await c.session.seal({ type: MessageType.Bye }));
    expect(await s.session.open(up[0]!.body)).toEqual({ type: MessageType.Bye });
    const down = toClient.push(await s.session.seal({ type: MessageType.Bye }));
    expect(await c.session.open(down[0]!.body)).toEqual({ type: MessageType.Bye });
  });

  it('two sessions of the same keys share no binding', async () => {
    const a = await run({});
    const b = await run({});
    expect(a.s.session.binding).not.toEqual(b.s.session.binding);
  });

  it('a man in the middle with another server key is refused by the pin', async () => {
    const impostor = await generateSigningKey(false);
    const pinned = serverKey.publicRaw;
    const checkServerKey = (k: Uint8Array) => {
      if (!k.every((b, i) => b === pinned[i])) throw new V4Error('V4_ERR_PINNED_KEY_CHANGED', 'changed');
    };
    await expect(run({ server: impostor, client: { checkServerKey } })).rejects.toMatchObject({
      code: 'V4_ERR_PINNED_KEY_CHANGED',
    });
    await expect(run({ client: { checkServerKey } })).resolves.toBeTruthy();
  });

  it('a client presenting a stolen public key without its private key is refused', async () => {
    const thief = await generateSigningKey(false);
    // The thief's key signs, the victim's public key is presented.
    const stolen: KeyPairWithRaw = { ...thief, publicRaw: clientKey.publicRaw };
    await expect(run({ client: { identity: stolen } })).rejects.toMatchObject({ code: 'V4_ERR_HANDSHAKE' });
  });

  it("another session's ServerAuth or ClientAuth spliced in is refused", async () => {
    const captured: Record<string, Uint8Array> = {};
    await run({
      tamper: (w, b) => {
        captured[w] = b;
        return b;
      },
    });
    const serverAuthOfA = captured['server-flight']!.subarray(40);
    await expect(
      run({
        tamper: (w, b) =>
          w === 'server-flight' ? new Uint8Array([...b.subarray(0, 40), ...serverAuthOfA]) : b,
      }),
    ).rejects.toMatchObject({ code: 'V4_ERR_HANDSHAKE' });
    await expect(
      run({ tamper: (w, b) => (w === 'client-auth' ? captured['client-auth']! : b) }),
    ).rejects.toMatchObject({
      code: 'V4_ERR_HANDSHAKE',
    });
  });

  it.each([
    ['server-flight', 10, 'the ServerHello ephemeral key'],
    ['server-flight', 60, 'the sealed ServerAuth'],
    ['client-auth', 20, 'the sealed ClientAuth'],
  ] as const)('refuses a flipped byte in %s at %i (%s)', async (where, at, _what) => {
    const tamper: Tamper = (w, b) => {
      if (w !== where) return b;
      const c = b.slice();
      c[at]! ^= 0x01;
      return c;
    };
    await expect(run({ tamper })).rejects.toBeInstanceOf(V4Error);
  });

  it('refuses frames out of order and reports a peer Alert', async () => {
    const server = new ServerHandshake({ identity: serverKey });
    const sealed: Frame = { type: FrameType.Sealed, body: new Uint8Array(40) };
    await expect(server.onFrame(sealed)).rejects.toMatchObject({ code: 'V4_ERR_STATE' });
    const client = new ClientHandshake({ identity: clientKey, name: 'a', checkServerKey: () => {} });
    await client.start();
    const alert: Frame = {
      type: FrameType.Alert,
      body: Uint8Array.of(9, 0, 1, 4, 0, 0x62, 0x75, 0x73, 0x79),
    };
    await expect(client.onFrame(alert)).rejects.toMatchObject({
      code: 'V4_ERR_PEER',
      wireCode: 9,
      message: 'busy',
    });
  });

  it('a replayed or reordered Sealed frame after the handshake is refused', async () => {
    const { s, c, toServer } = await run({});
    const [a] = toServer.push(await c.session.seal({ type: MessageType.Bye }));
    const [b] = toServer.push(await c.session.seal({ type: MessageType.Bye }));
    await expect(s.session.open(b!.body)).rejects.toMatchObject({ code: 'V4_ERR_RECORD' });
    void a;
  });
});
