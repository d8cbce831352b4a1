import QRCode from 'qrcode';
import { describe, expect, it } from 'vitest';
import { qrForTerminal } from './invite-qr';

describe('the invite link as a QR code', () => {
  it('draws every module of the code for the whole link, two rows per line, with a quiet zone', async () => {
    const link = `http://files.example.org/#invite=sfi1.${'A'.repeat(300)}.${'b'.repeat(86)}`;
    const text = await qrForTerminal(link);
    const size = QRCode.create(link, { errorCorrectionLevel: 'L' }).modules.size;
    const lines = text.trimEnd().split('\n');
    // 2 modules of quiet zone each side (the terminal's own background adds to it), two rows per line.
    expect(lines.length).toBe(Math.ceil((size + 4) / 2));
    expect(text).toMatch(/[█▀▄]/);
    expect(await qrForTerminal(`${link}x`)).not.toBe(text);
  });
});
