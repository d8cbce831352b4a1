/**
 * Debian's Chromium and the flags it needs here, shared by the Playwright config and the
 * bench (which runs Chromium without Playwright). Without the background-networking flags
 * Chromium keeps trying hosts this closed network refuses.
 */
export const CHROMIUM_PATH = process.env.SFT_CHROMIUM ?? '/usr/bin/chromium';

export const CHROMIUM_BASE_FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
