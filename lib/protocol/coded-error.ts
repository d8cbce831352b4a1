/**
 * The base of every layer's error type (ProtocolError, CryptoError, ClientError, ServerError,
 * BridgeError, CliError, BrowserError): a stable `code` from the layer's own union, which
 * tests, logs and the UI use, and a message for people. Each subclass sets `name` itself
 * (a bundler may rename classes, so `constructor.name` is not stable).
 */
export abstract class CodedError<Code extends string> extends Error {
  abstract override readonly name: string;

  constructor(
    readonly code: Code,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
