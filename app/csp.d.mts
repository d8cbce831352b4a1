export function contentSecurityPolicy(opts?: { dev?: boolean; connectSrc?: string }): string;
