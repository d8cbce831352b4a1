/** Sizes for people, shared by every display of a size: the CLI, the page, the server's log and listing. */
import prettyBytes from 'pretty-bytes';

const GIB = 1024 ** 3;

/**
 * Binary units (KiB, MiB, GiB) with a fixed number of decimals, so a counting figure does not
 * jump in width: whole bytes below 1 KiB, two decimals from 1 GiB, one otherwise
 * ("0 B", "1.5 KiB", "20.0 MiB", "3.00 GiB"). A fixed locale: the same text in every browser.
 */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const digits = n >= GIB ? 2 : 1;
  return prettyBytes(n, {
    binary: true,
    locale: 'en-US',
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

/**
 * A size a person chose, such as an invite's limit: as few decimals as it needs, up to two
 * ("10 GiB", "1.5 GiB", "500 MiB"), so "up to 10 GiB" reads as the owner wrote it.
 */
export function formatByteLimit(n: number): string {
  if (n < 1024) return `${n} B`;
  return prettyBytes(n, { binary: true, locale: 'en-US', maximumFractionDigits: 2 });
}
