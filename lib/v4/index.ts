export * from './errors';
export * from './handshake';
export * from './key-schedule';
export * from './keys';
export * from './record-layer';
export * from './session';
export * from './stream';
