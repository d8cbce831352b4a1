export * from './client-id';
export * from './constants';
export * from './errors';
export * from './frame-decoder';
export * from './headers';
export * from './name-field';
export * from './requests';
export * from './responses';
