import type { Metadata, Viewport } from 'next';
import type { ReactNode } from 'react';
import './globals.css';
import { connectSrcPolicy, getRuntimeConfig } from './runtime-config';

export const metadata: Metadata = {
  title: 'sftransfer: send files to your server, encrypted',
  description: 'Files are encrypted in this browser before they leave it.',
};

export const viewport: Viewport = {
  width: 'device-width',
  initialScale: 1,
  colorScheme: 'light dark',
};

export default async function RootLayout({ children }: { children: ReactNode }) {
  const { bridgeUrl } = await getRuntimeConfig();
  return (
    <html lang="en">
      <head>
        {/* Narrows the header policy's "ws: wss:" to this deployment's bridge (see next.config.mjs). */}
        <meta httpEquiv="Content-Security-Policy" content={connectSrcPolicy(bridgeUrl)} />
      </head>
      <body className="min-h-screen font-sans antialiased">{children}</body>
    </html>
  );
}
