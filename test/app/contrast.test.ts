/**
 * The page's colours (app/globals.css, light and dark) meet WCAG AA for text (4.5:1) in the
 * pairs the page puts together: each tone on its soft background (the badges and panels),
 * every text colour on the card and the page, muted text on every soft background.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const css = readFileSync(new URL('../../app/globals.css', import.meta.url), 'utf8');

function palette(block: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of block.matchAll(/--color-([a-z-]+):\s*(#[0-9a-f]{6})/gi)) out[m[1]!] = m[2]!;
  return out;
}

const light = palette(css.slice(css.indexOf('@theme'), css.indexOf('@media')));
const dark = { ...light, ...palette(css.slice(css.indexOf('@media (prefers-color-scheme: dark)'))) };

function luminance(hex: string): number {
  const [r, g, b] = [1, 3, 5].map((i) => {
    const c = Number.parseInt(hex.slice(i, i + 2), 16) / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
}

function ratio(a: string, b: string): number {
  const [x, y] = [luminance(a), luminance(b)].sort((p, q) => q - p);
  return (x! + 0.05) / (y! + 0.05);
}

const TONES = ['accent', 'ok', 'warn', 'bad'];
const pairs: [string, string][] = [
  ...TONES.map((t): [string, string] => [t, `${t}-soft`]),
  ...[...TONES, 'ink', 'muted'].flatMap((t): [string, string][] => [
    [t, 'card'],
    [t, 'page'],
  ]),
  ...TONES.map((t): [string, string] => ['muted', `${t}-soft`]),
  ['accent-ink', 'accent'],
];

describe('colour contrast of the page', () => {
  for (const [name, colours] of [
    ['light', light],
    ['dark', dark],
  ] as const) {
    it(`${name}: every text colour on its backgrounds is at least 4.5:1`, () => {
      const low = pairs
        .map(([fg, bg]) => ({ fg, bg, r: ratio(colours[fg]!, colours[bg]!) }))
        .filter((p) => !(p.r >= 4.5));
      expect(low).toEqual([]);
    });
  }
});
