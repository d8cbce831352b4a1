/** What the CLI's connections offer beyond the shared Transport contract. */
import type { Transport } from '../lib/client';

/**
 * A transport the CLI can also close gracefully once all answers are in; a WebSocket one
 * also says how the bridge closed it (4010-4013: the invite was refused).
 */
export type CliTransport = Transport & {
  end?(): Promise<void>;
  readonly closeCode?: number | null;
  whenClosed?(): Promise<void>;
};
