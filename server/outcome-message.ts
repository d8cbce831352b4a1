/**
 * The sentence a person reads for one request's log line ("alice sent report.pdf, 2.1 MiB"),
 * derived from the line's fields; the JSON fields stay as they are for machines.
 */
import { formatBytes } from '../lib/format';
import { RequestCode, ResponseCode } from '../lib/protocol';

export interface OutcomeFields {
  name?: string;
  client: string;
  code: number;
  result: number | null;
  bytes: number;
  error?: string;
  detail?: string;
  file?: string;
}

export function describeOutcome(f: OutcomeFields): string {
  // A registration comes with the all-zero ID (the server gives it one).
  const who = f.name ?? (/^0*$/.test(f.client) ? 'a new client' : `client ${f.client.slice(0, 8)}`);
  const file = f.file ?? 'a file';
  const failed = f.error ? ` (${f.error}${f.detail ? `, ${f.detail}` : ''})` : '';
  switch (f.code) {
    case RequestCode.Register:
      return f.result === ResponseCode.Registered
        ? `${who} registered`
        : `${who} could not register${failed || ' (name taken)'}`;
    case RequestCode.SendPublicKey:
      return f.result === ResponseCode.PublicKeyAccepted
        ? `${who} sent its public key`
        : `${who}'s public key was refused${failed}`;
    case RequestCode.Reconnect:
      if (f.result === ResponseCode.Reconnected) return `${who} reconnected`;
      if (f.result === ResponseCode.ReconnectRejected)
        return `${who} is not known here; it must register anew`;
      return `${who} could not reconnect${failed}`;
    case RequestCode.SendFile:
      return f.result === ResponseCode.FileReceived
        ? `${who} sent ${file}, ${formatBytes(f.bytes)} encrypted; checking its CRC`
        : `${who}'s upload of ${file} failed${failed}`;
    case RequestCode.CrcOk:
      return f.error
        ? `${who}: ${file} could not be marked verified${failed}`
        : `${who}'s ${file} is verified`;
    case RequestCode.CrcRetry:
      return `${who}'s ${file} arrived damaged (CRC differed); it is sending it again`;
    case RequestCode.CrcAbort:
      return `${who} gave up on ${file}: its CRC differed on every attempt`;
    default:
      return f.error ? `a request from ${who} failed${failed}` : `${who}: request ${f.code}`;
  }
}
