/** The fields of the two frame headers (layouts in headers.ts); apart so errors.ts can name them. */
export interface RequestHeader {
  clientId: Uint8Array;
  version: number;
  code: number;
  payloadSize: number;
}

export interface ResponseHeader {
  version: number;
  code: number;
  payloadSize: number;
}
