export * from './bytes';
export * from './constants';
export * from './errors';
export * from './frame-decoder';
export * from './frames';
export * from './messages';
