/** lib/client: the protocol v3 client session over an injected transport; runtime-neutral. */
export * from './errors';
export * from './establish';
export * from './format-bytes';
export * from './receive-queue';
export * from './session';
export * from './transport';
export * from './types';
