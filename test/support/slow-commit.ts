/**
 * Imported into a server process by tests (StartOptions.preload): every move of a finished
 * upload into files/ waits SFT_TEST_COMMIT_DELAY_MS first, as on a slow or busy disk (the
 * steps between an upload's last record and its UploadDone: sync, hash, rename, row).
 */
import { LocalFileStorage } from '../../server/local-storage';

const delay = Number(process.env.SFT_TEST_COMMIT_DELAY_MS ?? '1000');
const commit = LocalFileStorage.prototype.commit;
LocalFileStorage.prototype.commit = async function (this: LocalFileStorage, ...args) {
  await new Promise((resolve) => setTimeout(resolve, delay));
  return commit.apply(this, args);
};
