// The page and the CLI import it from here; the one definition is in lib/format.
export { formatBytes } from '../format/format-bytes';
