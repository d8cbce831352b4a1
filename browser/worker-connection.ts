/**
 * The upload worker's connection state: the one connection, where to reconnect, the upload
 * in flight and the reconnect in progress. Every connect or disconnect starts a new
 * generation; async work started earlier holds its generation's ticket and, once superseded,
 * must not touch the state (it closes what it opened instead). Generic over the connection,
 * so tests need no WebSocket.
 */

export interface Closable {
  close(): void;
}

/** The file being sent: cancelling aborts its signal. */
interface ActiveUpload {
  id: string;
  abort: AbortController;
}

export class WorkerConnection<C extends Closable, T> {
  #target: T | undefined;
  #current: C | undefined;
  #generation = 0;
  #upload: ActiveUpload | undefined;
  #reconnecting: Promise<void> | undefined;

  /** Where to reconnect after a cancel, a failed upload or a routine close. */
  get target(): T | undefined {
    return this.#target;
  }

  /** The established connection, if any. */
  get current(): C | undefined {
    return this.#current;
  }

  /** True while a file is being sent. */
  get uploading(): boolean {
    return this.#upload !== undefined;
  }

  /**
   * Starts over: aborts the upload, closes the connection and supersedes all work in
   * progress. Returns the ticket of the work that starts now. `target` replaces where to
   * reconnect (undefined leaves it).
   */
  restart(target?: T): number {
    this.#generation++;
    this.#upload?.abort.abort();
    const old = this.#current;
    this.#current = undefined;
    old?.close();
    if (target !== undefined) this.#target = target;
    return this.#generation;
  }

  /** Closes everything and forgets where to reconnect (the person disconnected). */
  disconnect(): void {
    this.#target = undefined;
    this.restart();
  }

  /** Whether work holding `ticket` is still the latest. */
  isCurrent(ticket: number): boolean {
    return ticket === this.#generation;
  }

  /**
   * Makes `conn` the connection, unless `ticket` was superseded: then `conn` is closed and
   * false returned. `target` replaces where to reconnect.
   */
  adopt(ticket: number, conn: C, target?: T): boolean {
    if (!this.isCurrent(ticket)) {
      conn.close();
      return false;
    }
    this.#current = conn;
    if (target !== undefined) this.#target = target;
    return true;
  }

  /**
   * `conn` closed on its own. True (and it is forgotten) when it was the connection and no
   * upload was on it; an upload reports its own failure, a replaced connection is no news.
   */
  closedWhileIdle(conn: C): boolean {
    if (this.#current !== conn || this.#upload) return false;
    this.#current = undefined;
    return true;
  }

  /** Forgets `conn` if it is still the connection (it became unusable); true if it was. */
  forget(conn: C): boolean {
    if (this.#current !== conn) return false;
    this.#current = undefined;
    return true;
  }

  /**
   * Starts sending file `id` on the connection; undefined when there is none or another
   * upload is in flight. The returned signal aborts on cancel(id) and on restart().
   */
  beginUpload(id: string): { conn: C; signal: AbortSignal } | undefined {
    const conn = this.#current;
    if (!conn || this.#upload) return undefined;
    const abort = new AbortController();
    this.#upload = { id, abort };
    return { conn, signal: abort.signal };
  }

  endUpload(): void {
    this.#upload = undefined;
  }

  /** Cancels the upload `id` if it is the one in flight; true if it was. */
  cancel(id: string): boolean {
    if (this.#upload?.id !== id) return false;
    this.#upload.abort.abort();
    return true;
  }

  /** Records a reconnect in progress; an upload arriving meanwhile waits for it. */
  trackReconnect(run: Promise<void>): Promise<void> {
    this.#reconnecting = run;
    const settled = () => {
      if (this.#reconnecting === run) this.#reconnecting = undefined;
    };
    run.then(settled, settled);
    return run;
  }

  /** Resolves once a reconnect in progress (if there is no connection) has finished. */
  async ready(): Promise<void> {
    if (!this.#current && this.#reconnecting) await this.#reconnecting;
  }
}
