/**
 * The invite link as a QR code for a terminal (two rows of modules per line of text), so the
 * owner can hand it to a phone without typing it. Only on a terminal: piped output is JSON.
 */
import QRCode from 'qrcode';

export async function qrForTerminal(link: string): Promise<string> {
  // Error correction L: the densest code that still scans from a screen; links are long.
  return QRCode.toString(link, { type: 'terminal', small: true, errorCorrectionLevel: 'L', margin: 2 });
}
