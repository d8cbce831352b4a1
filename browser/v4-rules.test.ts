import { describe, expect, it } from 'vitest';
import { nameProblem } from '../lib/protocol/v4/messages';
import {
  checkPin,
  findKept,
  isKeptUpload,
  type KeptUpload,
  linkPinDecision,
  pinAddress,
  protocolChoice,
  v3IdentityWantsV4,
  v4FileName,
  wantsV4,
  withKept,
  withoutKept,
  withoutPin,
} from './v4-rules';

const kept = (name: string, extra: Partial<KeptUpload> = {}): KeptUpload => ({
  server: '127.0.0.1:8080',
  name,
  size: 10,
  lastModified: 5,
  uploadId: new Uint8Array(16).fill(1),
  fileKey: new Uint8Array(32).fill(2),
  ...extra,
});

describe('protocolChoice', () => {
  it('reads ?protocol=3|4|auto; anything else is auto', () => {
    expect(protocolChoice('?protocol=3')).toBe(3);
    expect(protocolChoice('?x=1&protocol=4')).toBe(4);
    expect(protocolChoice('?protocol=auto')).toBe('auto');
    expect(protocolChoice('')).toBe('auto');
    expect(protocolChoice('?protocol=5')).toBe('auto');
  });
});

describe('wantsV4', () => {
  it('is v4 when forced or auto (invite or not), unless the server answered as v3; never when v3 is forced', () => {
    expect(wantsV4(4, false)).toBe(true);
    expect(wantsV4(4, true)).toBe(true);
    expect(wantsV4('auto', false)).toBe(true);
    expect(wantsV4('auto', true)).toBe(false);
    expect(wantsV4(3, false)).toBe(false);
    // No third parameter: an invite has no say (the v4 key is the identity under invites too).
    expect(wantsV4.length).toBe(2);
  });
});

describe('v3IdentityWantsV4', () => {
  it('as wantsV4, but a v3 identity under an invite stays v3 on auto (its one slot is taken)', () => {
    expect(v3IdentityWantsV4('auto', false, false)).toBe(true);
    expect(v3IdentityWantsV4('auto', false, true)).toBe(false);
    expect(v3IdentityWantsV4('auto', true, false)).toBe(false);
    expect(v3IdentityWantsV4(4, false, true)).toBe(true);
    expect(v3IdentityWantsV4(3, false, false)).toBe(false);
  });
});

describe('linkPinDecision', () => {
  const A = '127.0.0.1:8080';
  const L = `SHA256:${'L'.repeat(43)}`;
  const P = `SHA256:${'P'.repeat(43)}`;
  it('without a link fingerprint: nothing to do, whatever the pins', () => {
    expect(linkPinDecision({}, A, undefined)).toEqual({ kind: 'none' });
    expect(linkPinDecision({ [A]: P }, A, undefined)).toEqual({ kind: 'none' });
  });
  it('no pin yet: the link fingerprint becomes the pin of that address only', () => {
    const other = { '10.0.0.1:80': P };
    expect(linkPinDecision(other, A, L)).toEqual({ kind: 'pin', pins: { ...other, [A]: L } });
  });
  it('the same pin: nothing to do', () => {
    expect(linkPinDecision({ [A]: L }, A, L)).toEqual({ kind: 'same' });
  });
  it('another pin: different, naming the pinned one (not overwritten)', () => {
    expect(linkPinDecision({ [A]: P }, A, L)).toEqual({ kind: 'different', pinned: P });
  });
});

describe('pinAddress', () => {
  it('is host:port with the default port written out', () => {
    expect(pinAddress('ws://127.0.0.1:8080/')).toBe('127.0.0.1:8080');
    expect(pinAddress('wss://files.example/ws')).toBe('files.example:443');
    expect(pinAddress('ws://files.example/')).toBe('files.example:80');
    expect(pinAddress('ws://[::1]:9/')).toBe('[::1]:9');
  });
});

describe('checkPin', () => {
  it('pins on first use, accepts the pinned key, refuses another naming both', () => {
    const first = checkPin({}, 'a:1', 'SHA256:one');
    expect(first).toEqual({ kind: 'pinned', pins: { 'a:1': 'SHA256:one' } });
    const pins = first.kind === 'pinned' ? first.pins : {};
    expect(checkPin(pins, 'a:1', 'SHA256:one')).toEqual({ kind: 'known' });
    expect(checkPin(pins, 'a:1', 'SHA256:two')).toEqual({
      kind: 'changed',
      pinned: 'SHA256:one',
      offered: 'SHA256:two',
    });
    // Another address is another server.
    expect(checkPin(pins, 'a:2', 'SHA256:two').kind).toBe('pinned');
    expect(checkPin(withoutPin(pins, 'a:1'), 'a:1', 'SHA256:two').kind).toBe('pinned');
  });
});

describe('kept uploads', () => {
  it('are found by server, name, size and lastModified only', () => {
    const list = [kept('a.bin'), kept('b.bin')];
    const f = { name: 'a.bin', size: 10, lastModified: 5 };
    expect(findKept(list, '127.0.0.1:8080', f)).toBe(list[0]);
    expect(findKept(list, '127.0.0.1:8081', f)).toBeUndefined();
    expect(findKept(list, '127.0.0.1:8080', { ...f, size: 11 })).toBeUndefined();
    expect(findKept(list, '127.0.0.1:8080', { ...f, lastModified: 6 })).toBeUndefined();
  });

  it('a new upload of the same file replaces the old; removal leaves the rest; the list is bounded', () => {
    const newer = kept('a.bin', { uploadId: new Uint8Array(16).fill(9) });
    const list = withKept([kept('a.bin'), kept('b.bin')], newer);
    expect(list.map((k) => k.name)).toEqual(['b.bin', 'a.bin']);
    expect(list[1]!.uploadId[0]).toBe(9);
    expect(
      withoutKept(list, '127.0.0.1:8080', { name: 'a.bin', size: 10, lastModified: 5 }).map((k) => k.name),
    ).toEqual(['b.bin']);
    let many: KeptUpload[] = [];
    for (let i = 0; i < 5; i++) many = withKept(many, kept(`${i}`), 3);
    expect(many.map((k) => k.name)).toEqual(['2', '3', '4']);
  });

  it('isKeptUpload refuses damaged entries', () => {
    expect(isKeptUpload(kept('a'))).toBe(true);
    expect(isKeptUpload({ ...kept('a'), uploadId: new Uint8Array(3) })).toBe(false);
    expect(isKeptUpload({ ...kept('a'), size: '10' })).toBe(false);
    expect(isKeptUpload(null)).toBe(false);
  });
});

describe('v4FileName', () => {
  it('keeps UTF-8, replaces what the name rules refuse and slashes, refuses dot names, cuts at 255 bytes', () => {
    expect(v4FileName('résumé ü.pdf')).toBe('résumé ü.pdf');
    expect(v4FileName('a/b\\c\u0001.txt')).toBe('a_b_c_.txt');
    // C1 controls, bidi controls, separators and the BOM, which the server would refuse (Error 15).
    expect(v4FileName('report\u009b2J-invoice\u202Etxt.exe')).toBe('report_2J-invoice_txt.exe');
    expect(v4FileName('a\u2066b\u200fc\u2028d\ufeff.txt')).toBe('a_b_c_d_.txt');
    expect(nameProblem(v4FileName('x\u0085\u061c\u2069y'), true)).toBeNull();
    expect(v4FileName('..')).toBe('file');
    const long = `${'é'.repeat(200)}.txt`;
    const out = v4FileName(long);
    expect(new TextEncoder().encode(out).length).toBeLessThanOrEqual(255);
    expect(out.endsWith('.txt')).toBe(true);
  });
});
