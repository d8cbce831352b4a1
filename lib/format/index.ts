/** Text for people, runtime-neutral and free of protocol knowledge: the server may use it too. */
export { formatBytes } from './format-bytes';
