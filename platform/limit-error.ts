/** The one error type of the per-source limit helpers (source keys, address lists, buckets, budgets). */
export type LimitErrorCode =
  /** An option out of range (a rate of 0, a negative cap, a prefix length over 128). */
  | 'LIMIT_BAD_OPTION'
  /** A negative or non-finite amount asked of a budget. */
  | 'LIMIT_BAD_AMOUNT'
  /** Text that is not an IP address where a socket's address was expected. */
  | 'LIMIT_BAD_ADDRESS'
  /** An allow-list entry that is not an address or CIDR. */
  | 'LIMIT_BAD_CIDR';

export class LimitError extends Error {
  override readonly name = 'LimitError';
  constructor(
    readonly code: LimitErrorCode,
    message: string,
  ) {
    super(message);
  }
}
