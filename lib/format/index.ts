/** Text for people, runtime-neutral and free of protocol knowledge: the server may use it too. */
export { formatByteLimit, formatBytes } from './format-bytes';
