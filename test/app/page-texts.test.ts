/**
 * Small texts of the page, rendered to markup (no browser): what the drop zone says after the
 * changed-key warning, what the header's address is, and the line that asks to check a pin.
 */
import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { IdentityCard, PIN_CHECK_HINT } from '../../app/components/identity-panels';
import { BridgeAddress } from '../../app/components/status-panel';
import type { Conn } from '../../app/components/transfer-types';
import { UploadPanel } from '../../app/components/upload-panel';
import { waitingHint } from '../../app/components/upload-rules';
import type { StoredIdentity } from '../../browser/identity-store';
import { startBanner } from '../../scripts/start-banner';

/** The text of `html`, tags dropped and entities of quotes undone. */
const text = (html: string) =>
  html
    .replace(/<[^>]+>/g, '')
    .replace(/&#x27;/g, "'")
    .replace(/&quot;/g, '"');

function dropZone(conn: Conn): string {
  return text(
    renderToStaticMarkup(
      createElement(UploadPanel, {
        items: [],
        refused: [],
        canSend: false,
        waitHint: waitingHint(conn),
        protocol: 4,
        serverHost: '127.0.0.1:8080',
        now: 0,
        onFiles() {},
        onCancel() {},
        onRetry() {},
        onClearFinished() {},
        onDismissRefused() {},
      }),
    ),
  );
}

describe('the drop zone while files cannot go', () => {
  it('after the changed-key warning it says what to do, not that the connection will be ready', () => {
    const changed: Conn = { kind: 'problem', problem: 'server-key-changed', detail: 'x' };
    const said = dropZone(changed);
    expect(said).not.toContain('until the connection is ready');
    expect(said).toContain(
      'Files wait here, and nothing is sent until the warning above is settled: ask whoever runs the server which key it has now, and forget the old key only if they confirm the new one.',
    );
  });

  it('while connecting (it becomes ready by itself) it still says files wait for it', () => {
    expect(dropZone({ kind: 'connecting', registering: false })).toContain(
      'Files wait here until the connection is ready.',
    );
  });
});

describe('the header’s address', () => {
  it('is the bridge’s, said as the address files go through (not a "Server")', () => {
    const said = text(renderToStaticMarkup(createElement(BridgeAddress, { host: '127.0.0.1:8080' })));
    expect(said).toBe('Files go through 127.0.0.1:8080');
  });
});

describe('the pinned server key on the identity card', () => {
  const identity = {
    name: 'alice',
    clientId: new Uint8Array(16),
    createdAt: 1,
    origin: 'registered',
    v4: true,
  } as unknown as StoredIdentity;
  const card = (server: string | null) =>
    text(
      renderToStaticMarkup(
        createElement(IdentityCard, {
          identity,
          fingerprints: { key: 'SHA256:me', server },
          serverHost: '127.0.0.1:8080',
          onForget() {},
        }),
      ),
    );

  it('asks to compare it with what the server prints, in the banner’s and info’s own words', () => {
    const said = card('SHA256:srv');
    expect(said).toContain('Server key pinned for 127.0.0.1:8080 SHA256:srv');
    expect(said).toContain(PIN_CHECK_HINT);
    // The words it names are the ones the server prints: the banner's row is "Key:".
    const banner = startBanner({
      host: '127.0.0.1',
      webPort: '3000',
      bridge: '127.0.0.1:8080',
      server: '127.0.0.1:1256',
      data: '/data',
      fingerprint: 'SHA256:srv',
      access: 'open',
    });
    expect(banner).toMatch(/^ {2}Key: {4}SHA256:srv {2}\(the server's key/m);
    expect(PIN_CHECK_HINT).toContain('the Key: line of its npm start banner');
    expect(PIN_CHECK_HINT).toContain('npm run server -- info');
  });

  it('says nothing of it before a key is pinned', () => {
    expect(card(null)).not.toContain('Pinned on first use');
  });
});
