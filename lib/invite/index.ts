export {
  ACCESS_MODES,
  type AccessMode,
  defaultAccessMode,
  isLoopbackHost,
  parseAccessMode,
} from './access';
export { InviteError, type InviteErrorCode } from './errors';
export {
  FINGERPRINT_PATTERN,
  fingerprintFromLink,
  inviteLink,
  LINK_PARAM,
  SERVER_PARAM,
  tokenFromLink,
} from './link';
export {
  clientSubprotocols,
  INVITE_SUBPROTOCOL_PREFIX,
  type OfferedInvite,
  offeredInvite,
  SFT_SUBPROTOCOL,
} from './subprotocol';
export {
  base64UrlToBytes,
  bytesToBase64Url,
  generateInviteKeyPair,
  INVITE_ID_PATTERN,
  type InvitePayload,
  importInvitePrivateKey,
  importInvitePublicKey,
  MAX_LABEL_LENGTH,
  MAX_TOKEN_LENGTH,
  readInviteUnverified,
  signInvite,
  TOKEN_PREFIX,
  verifyInvite,
} from './token';
