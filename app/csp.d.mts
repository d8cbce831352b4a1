export function contentSecurityPolicy(opts?: {
  dev?: boolean;
  connectSrc?: string;
  nonce?: string;
  inlineScripts?: boolean;
}): string;
