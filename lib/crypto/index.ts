/** lib/crypto: cksum, streaming AES-CBC, RSA helpers and identity file formats; runtime-neutral. */
export * from './aes-cbc-stream';
export * from './cksum';
export * from './encoding';
export * from './errors';
export * from './identity-files';
export * from './rsa';
