/**
 * The page's worker against a hostile protocol v4 server (test/support/hostile-v4-server.ts,
 * on 127.0.0.1) that keeps it waiting: the worker's own code (browser/page-transport.ts,
 * browser/v4-worker.ts, browser/connect-problem.ts, the page's upload rules) over the browser's
 * WebSocket transport, here given the `ws` package's WebSocket, through a minimal relay that
 * plays the bridge (each message to TCP, each TCP chunk a message). No browser needed.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer, WebSocket as WsClient } from 'ws';
import { failureSentence, finishItem } from '../../app/components/upload-rules';
import { connectProblem } from '../../browser/connect-problem';
import { PageTransport, transportFailure } from '../../browser/page-transport';
import type { FromWorker } from '../../browser/upload-protocol';
import { newItems } from '../../browser/upload-queue';
import { uploadV4 } from '../../browser/v4-worker';
import { V4ClientSession } from '../../lib/client/v4-session';
import { MessageType } from '../../lib/protocol/v4/constants';
import { type HostileV4Server, startHostileV4Server } from '../support/hostile-v4-server';
import { newIdentity } from '../support/v4-client';

/** The page's deadline, short for the test. */
const DEADLINE_MS = 600;

let server: HostileV4Server | null = null;
let relay: WebSocketServer | null = null;

afterEach(async () => {
  if (relay) {
    for (const c of relay.clients) c.terminate();
    await new Promise((r) => relay!.close(r));
  }
  relay = null;
  await server?.close();
  server = null;
});

/** A bridge in its simplest form: one TCP connection to `port` per WebSocket, bytes relayed as they are. */
async function startRelay(port: number): Promise<string> {
  relay = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  relay.on('connection', (ws) => {
    const tcp = net.connect(port, '127.0.0.1');
    tcp.on('data', (d) => ws.send(d, { binary: true }));
    tcp.on('close', () => ws.close(1000));
    tcp.on('error', () => {});
    ws.on('message', (d: Buffer) => tcp.write(d));
    ws.on('close', () => tcp.destroy());
    ws.on('error', () => {});
  });
  await new Promise<void>((r) => relay!.once('listening', r));
  return `ws://127.0.0.1:${(relay.address() as net.AddressInfo).port}/`;
}

function connectPage(url: string): Promise<PageTransport> {
  return PageTransport.connect(url, {
    answerTimeoutMs: DEADLINE_MS,
    createSocket: (u) => new WsClient(u) as unknown as WebSocket,
  });
}

describe('a server that keeps the page waiting', () => {
  it('mid-upload (takes every record, never answers): the connection is closed, the file is interrupted with a sentence, and sent again once the connection is back', async () => {
    let records = 0;
    server = await startHostileV4Server({
      async script(conn) {
        const start = await conn.nextMessage();
        if (start?.type !== MessageType.UploadStart) return;
        await conn.send({ type: MessageType.UploadReady, uploadId: start.uploadId, nextRecord: 0 });
        // Reads on (so every send settles), never says UploadDone.
        while ((await conn.nextFrame()) !== null) records++;
      },
    });
    const url = await startRelay(server.port);
    const transport = await connectPage(url);
    const session = await V4ClientSession.open(transport, {
      key: await newIdentity(),
      name: 'alice',
      checkServerKey: () => {},
    });
    const file = new File([new Uint8Array(600 * 1024).fill(7)], 'a.bin', { lastModified: 1 });
    const posted: FromWorker[] = [];
    const started = performance.now();
    const r = await uploadV4(session, transport, url, 'f1', file, new AbortController().signal, (m) =>
      posted.push(m),
    );
    const took = performance.now() - started;
    expect(records).toBeGreaterThan(0);
    expect(transport.timedOut).toBe(true);
    expect(transport.isOpen).toBe(false);
    expect(took).toBeGreaterThanOrEqual(DEADLINE_MS - 50);
    expect(took).toBeLessThan(DEADLINE_MS + 5_000);
    expect(r.usable).toBe(false); // the worker opens a new connection
    expect(r.done).toMatchObject({ outcome: 'failed', code: 'CLIENT_ERR_TIMEOUT', protocol: 4 });
    expect(r.done.message).toContain('The server stopped answering');
    // The page's side: interrupted (so it goes again by itself once the worker reconnected),
    // and its row says why.
    const items = newItems([file]).map((it) => ({ ...it, id: 'f1', phase: 'sending' as const }));
    const { items: after, interrupted } = finishItem(items, r.done, { resends: 0, overInvite: false });
    expect(interrupted).toBe(true);
    const row = after[0]!;
    expect(failureSentence(row.code, !!row.interrupted, false, { protocol: 4 })).toBe(
      'The server stopped answering while this file was being sent, so the page closed the connection. It carries on from where it stopped once the connection is back.',
    );
  }, 30_000);

  it('at the handshake (accepts, never answers): closed at the deadline, said as the server stopping and tried again on its own; its close is not read as “no version 4” (which would fall back to version 3)', async () => {
    server = await startHostileV4Server({ beforeHandshake() {} });
    const url = await startRelay(server.port);
    const transport = await connectPage(url);
    const failed = await V4ClientSession.open(transport, {
      key: await newIdentity(),
      name: 'alice',
      checkServerKey: () => {},
    }).catch((e: unknown) => e);
    // What the session saw is a close before any byte: read alone, that is "no version 4".
    expect(failed).toMatchObject({ code: 'CLIENT_ERR_NOT_V4' });
    const e = transportFailure(failed, transport);
    expect(e).toMatchObject({ code: 'CLIENT_ERR_TIMEOUT' });
    const said = connectProblem(e, transport);
    expect(said.p).toBe('stopped-answering');
    expect(said.retry).toBe(true);
    expect(said.message).toBe(
      'The server stopped answering: it kept this page waiting 0.6 s without answering or taking its data, so the page closed the connection.',
    );
  }, 30_000);
});
