import { MAX_CLIENT_NAME_LENGTH, NAME_FIELD_SIZE } from './constants';
import { ProtocolError } from './errors';

/**
 * Checks that `text` can travel in a 255-byte Name/FileName field: non-empty printable
 * ASCII (0x20-0x7e) of at most `maxLength` characters.
 */
export function validateName(text: string, maxLength: number): void {
  if (text.length === 0) throw new ProtocolError('PROTO_ERR_NAME_EMPTY', 'The name is empty.');
  if (text.length > maxLength) {
    throw new ProtocolError(
      'PROTO_ERR_NAME_TOO_LONG',
      `The name is ${text.length} characters long; at most ${maxLength} are allowed.`,
    );
  }
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    // DEL (0x7f) is ASCII but a control character: it falls through to the next check.
    if (c > 0x7f) {
      throw new ProtocolError(
        'PROTO_ERR_NAME_NOT_ASCII',
        `The name has a non-ASCII character at position ${i + 1}; only ASCII is allowed.`,
      );
    }
    if (c < 0x20 || c === 0x7f) {
      throw new ProtocolError(
        'PROTO_ERR_NAME_CONTROL_CHAR',
        `The name has a control character at position ${i + 1}.`,
      );
    }
  }
}

/** Checks a client name against the reference client's 100-character limit. */
export function validateClientName(name: string): void {
  validateName(name, MAX_CLIENT_NAME_LENGTH);
}

/**
 * Name field, 255 bytes: ASCII text | 0x00 | zero padding up to 255 bytes.
 * The text may be at most 254 bytes so that the NUL always fits.
 */
export function encodeNameField(
  text: string,
  maxLength = NAME_FIELD_SIZE - 1,
  into?: Uint8Array,
): Uint8Array {
  validateName(text, Math.min(maxLength, NAME_FIELD_SIZE - 1));
  if (into && into.length < NAME_FIELD_SIZE) {
    throw new ProtocolError(
      'PROTO_ERR_BAD_FIELD',
      `A name field needs ${NAME_FIELD_SIZE} bytes, got ${into.length}.`,
    );
  }
  const field = into ?? new Uint8Array(NAME_FIELD_SIZE);
  if (into) field.fill(0, 0, NAME_FIELD_SIZE);
  for (let i = 0; i < text.length; i++) field[i] = text.charCodeAt(i);
  return field;
}

/** Reads a 255-byte Name field: the text before the first NUL, validated as in validateName. */
export function decodeNameField(field: Uint8Array): string {
  if (field.length !== NAME_FIELD_SIZE) {
    throw new ProtocolError(
      'PROTO_ERR_BAD_FIELD',
      `A name field must be ${NAME_FIELD_SIZE} bytes, got ${field.length}.`,
    );
  }
  const end = field.indexOf(0);
  if (end < 0)
    throw new ProtocolError('PROTO_ERR_NAME_NO_NUL', 'The name field has no terminating NUL byte.');
  let text = '';
  for (let i = 0; i < end; i++) text += String.fromCharCode(field[i]!);
  validateName(text, NAME_FIELD_SIZE - 1);
  return text;
}
