import { CodedError } from '../lib/protocol';

/** Stable codes of every browser-adapter failure; the UI maps each to a sentence and a next step. */
export type BrowserErrorCode =
  /** The bridge's WebSocket could not be opened (bridge down, wrong URL, blocked by CSP). */
  | 'BROWSER_ERR_BRIDGE_UNREACHABLE'
  /** An open connection closed before the exchange finished. */
  | 'BROWSER_ERR_CONNECTION_LOST'
  /** IndexedDB refused to read or write (private mode, quota, blocked). */
  | 'BROWSER_ERR_STORAGE'
  /** The worker failed to start or crashed. */
  | 'BROWSER_ERR_WORKER';

/** The one error type thrown by the browser adapter (browser/). */
export class BrowserError extends CodedError<BrowserErrorCode> {
  override readonly name = 'BrowserError';
}
