import { describe, expect, it } from 'vitest';
import * as cryptoLib from './index';

describe('lib/crypto public API', () => {
  it('exports every name other modules code against', () => {
    const names = [
      'CryptoError',
      'Cksum',
      'cksum',
      'createAesCbcEncryptor',
      'createAesCbcDecryptor',
      'ciphertextSize',
      'generateRsaKeyPair',
      'validatePublicKeySpki',
      'importPrivateKeyPkcs8',
      'exportPrivateKeyPkcs8',
      'unwrapAesKey',
      'wrapAesKey',
      'bytesToBase64',
      'base64ToBytes',
      'bytesToHex',
      'hexToBytes',
      'formatMeInfo',
      'parseMeInfo',
      'formatPrivKey',
      'parsePrivKey',
      'formatTransferInfo',
      'parseTransferInfo',
    ];
    for (const name of names)
      expect(typeof (cryptoLib as Record<string, unknown>)[name], name).toBe('function');
  });

  it('CryptoError carries a stable code', () => {
    const e = new cryptoLib.CryptoError('CRYPTO_ERR_STATE', 'x');
    expect(e).toBeInstanceOf(Error);
    expect(e.code).toBe('CRYPTO_ERR_STATE');
    expect(e.name).toBe('CryptoError');
  });
});
