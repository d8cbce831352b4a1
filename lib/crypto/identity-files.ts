/**
 * The reference client's text files (docs/PROTOCOL.md "Files the reference programs use"):
 * `me.info`, `priv.key` and `transfer.info`. Pure text <-> values; reading the files is the
 * adapter's job. Parsers accept CRLF and trailing whitespace on any line.
 */
import { CLIENT_ID_SIZE, MAX_CLIENT_NAME_LENGTH } from '../protocol/constants';
import { unsafeNameChar } from '../protocol/name-chars';
import { base64ToBytes, bytesToBase64, bytesToHex, hexToBytes } from './encoding';
import { CryptoError, type CryptoErrorCode } from './errors';

/** What me.info holds: the registered name, the server-assigned client ID and the RSA private key. */
export interface Identity {
  name: string;
  /** CLIENT_ID_SIZE (16) raw bytes. */
  clientId: Uint8Array;
  /** PKCS#8 DER. */
  privateKeyPkcs8: Uint8Array;
}

/** What transfer.info holds: where to connect, as whom, and which file to send. */
export interface TransferInfo {
  /** Host name or IP address; IPv6 without brackets. */
  host: string;
  port: number;
  name: string;
  filePath: string;
}

/** Base64 line length when we write keys (PEM's 64). */
const BASE64_LINE_LENGTH = 64;
/** Largest TCP port number. */
const MAX_PORT = 65535;

/** Splits text into lines: drops a BOM, accepts LF or CRLF, trims trailing whitespace, drops trailing blank lines. */
function splitLines(text: string): string[] {
  const lines = text
    .replace(/^\uFEFF/, '')
    .split('\n')
    .map((line) => line.trimEnd());
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

function badMeInfo(message: string): never {
  throw new CryptoError('CRYPTO_ERR_BAD_IDENTITY_FILE', `me.info: ${message}`);
}

function badTransferInfo(message: string): never {
  throw new CryptoError('CRYPTO_ERR_BAD_TRANSFER_INFO', message);
}

/** ASCII control characters (C0 and DEL): never in a name, not even one registered before the wider rule. */
const ASCII_CONTROL = /[\x00-\x1f\x7f]/;

/**
 * Returns why `name` is not a valid client name, or undefined if it is. `registered`: a
 * name already in a me.info, which must stay usable: only ASCII controls are refused there.
 */
function nameProblem(name: string, registered = false): string | undefined {
  if (name.length === 0) return 'is empty';
  if (name.length > MAX_CLIENT_NAME_LENGTH) {
    return `is ${name.length} characters, at most ${MAX_CLIENT_NAME_LENGTH} are allowed`;
  }
  if (ASCII_CONTROL.test(name)) return 'contains a control character';
  // New names: none of the characters v4 refuses either (C1 controls, bidi: lib/protocol/name-chars.ts).
  const bad = registered ? null : unsafeNameChar(name);
  if (bad !== null) return `contains the control character ${bad}`;
  return undefined;
}

/** Base64 wrapped at 64 characters per line, each line ending in a newline. */
function wrapBase64(bytes: Uint8Array): string {
  const b64 = bytesToBase64(bytes);
  let out = '';
  for (let i = 0; i < b64.length; i += BASE64_LINE_LENGTH) out += b64.slice(i, i + BASE64_LINE_LENGTH) + '\n';
  return out;
}

/** Decodes Base64 key text (one or many lines); must be non-empty DER (starts with a SEQUENCE tag). */
function decodeKeyText(text: string, code: CryptoErrorCode, where: string): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = base64ToBytes(text);
  } catch (cause) {
    throw new CryptoError(code, `${where} is not valid Base64.`, { cause });
  }
  if (bytes.length === 0) throw new CryptoError(code, `${where} is empty: the private key is missing.`);
  if (bytes[0] !== 0x30) throw new CryptoError(code, `${where} is not a DER PKCS#8 private key.`);
  return bytes;
}

/**
 * me.info layout:
 *   line 1: client name (1..100 characters)
 *   line 2: client ID, 32 hex digits (we write lowercase)
 *   line 3+: PKCS#8 private key in Base64, on one line or wrapped over several
 */
export function formatMeInfo(id: Identity): string {
  const problem = nameProblem(id.name);
  if (problem) throw new CryptoError('CRYPTO_ERR_BAD_IDENTITY_FILE', `The client name ${problem}.`);
  if (id.clientId.length !== CLIENT_ID_SIZE) {
    throw new CryptoError(
      'CRYPTO_ERR_BAD_IDENTITY_FILE',
      `The client ID is ${id.clientId.length} bytes, expected ${CLIENT_ID_SIZE}.`,
    );
  }
  return `${id.name}\n${bytesToHex(id.clientId)}\n${wrapBase64(id.privateKeyPkcs8)}`;
}

/** Parses me.info (layout at formatMeInfo); CRYPTO_ERR_BAD_IDENTITY_FILE names the wrong line. */
export function parseMeInfo(text: string): Identity {
  const lines = splitLines(text);
  const name = lines[0] ?? '';
  const problem = nameProblem(name, true);
  if (problem) badMeInfo(`line 1 (the client name) ${problem}.`);
  const idText = lines[1] ?? '';
  if (!/^[0-9a-fA-F]{32}$/.test(idText)) {
    badMeInfo(
      `line 2 must be the client ID as ${CLIENT_ID_SIZE * 2} hex digits, got ${JSON.stringify(idText)}.`,
    );
  }
  const clientId = hexToBytes(idText);
  if (lines.length < 3) badMeInfo('line 3 (the Base64 private key) is missing.');
  const privateKeyPkcs8 = decodeKeyText(
    lines.slice(2).join('\n'),
    'CRYPTO_ERR_BAD_IDENTITY_FILE',
    'me.info: line 3 onwards (the private key)',
  );
  return { name, clientId, privateKeyPkcs8 };
}

/** priv.key layout: the PKCS#8 private key in Base64, wrapped at 64 characters. */
export function formatPrivKey(pkcs8: Uint8Array): string {
  return wrapBase64(pkcs8);
}

/** Parses priv.key: Base64 PKCS#8 on one or many lines. */
export function parsePrivKey(text: string): Uint8Array {
  return decodeKeyText(text, 'CRYPTO_ERR_BAD_IDENTITY_FILE', 'priv.key');
}

/** Splits `host:port` or `[ipv6]:port`; returns undefined parts when malformed. */
function splitHostPort(text: string): { host: string; portText: string } | undefined {
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0 || text[close + 1] !== ':') return undefined;
    return { host: text.slice(1, close), portText: text.slice(close + 2) };
  }
  const colon = text.indexOf(':');
  // A second colon means an unbracketed IPv6 address: ambiguous, so rejected.
  if (colon < 0 || text.indexOf(':', colon + 1) >= 0) return undefined;
  return { host: text.slice(0, colon), portText: text.slice(colon + 1) };
}

/**
 * transfer.info layout:
 *   line 1: host:port (IPv6 as [addr]:port)
 *   line 2: client name (1..100 characters)
 *   line 3: path of the file to send
 */
export function formatTransferInfo(info: TransferInfo): string {
  if (info.host.length === 0 || /\s/.test(info.host))
    badTransferInfo('The host is empty or contains whitespace.');
  if (!Number.isInteger(info.port) || info.port < 1 || info.port > MAX_PORT)
    badTransferInfo(`Bad port ${info.port}.`);
  const problem = nameProblem(info.name);
  if (problem) badTransferInfo(`The client name ${problem}.`);
  if (info.filePath.length === 0 || /[\r\n]/.test(info.filePath))
    badTransferInfo('The file path is empty or has a newline.');
  const host = info.host.includes(':') ? `[${info.host}]` : info.host;
  return `${host}:${info.port}\n${info.name}\n${info.filePath}\n`;
}

/** Parses transfer.info (layout at formatTransferInfo); CRYPTO_ERR_BAD_TRANSFER_INFO names the wrong line. */
export function parseTransferInfo(text: string): TransferInfo {
  const lines = splitLines(text);
  const first = (lines[0] ?? '').trim();
  const parts = splitHostPort(first);
  if (!parts)
    badTransferInfo(
      `transfer.info: line 1 must be host:port (IPv6 as [address]:port), got ${JSON.stringify(first)}.`,
    );
  const { host, portText } = parts;
  if (host.length === 0 || /\s/.test(host))
    badTransferInfo('transfer.info: line 1 has an empty host or whitespace in the host.');
  const port = /^\d{1,5}$/.test(portText) ? Number(portText) : Number.NaN;
  if (!(port >= 1 && port <= MAX_PORT))
    badTransferInfo(`transfer.info: line 1 has port ${JSON.stringify(portText)}, expected 1..65535.`);
  const name = lines[1] ?? '';
  const problem = nameProblem(name);
  if (problem) badTransferInfo(`transfer.info: line 2 (the client name) ${problem}.`);
  const filePath = lines[2] ?? '';
  if (filePath.length === 0)
    badTransferInfo('transfer.info: line 3 (the path of the file to send) is missing.');
  if (lines.length > 3)
    badTransferInfo('transfer.info has more than 3 lines; only one file per transfer.info is supported.');
  return { host, port, name, filePath };
}
