/**
 * Imported into a server process by tests (StartOptions.preload): every move of a finished
 * upload into files/ waits SFT_TEST_COMMIT_DELAY_MS first, and every upload's final hash
 * SFT_TEST_DIGEST_DELAY_MS (default 0), as on a slow or busy disk or CPU (the steps between
 * an upload's last record and its UploadDone: hash, sync, rename, row).
 */
import { LocalFileStorage } from '../../server/local-storage';
import { RecordWriter } from '../../server/v4/record-writer';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const commitDelay = Number(process.env.SFT_TEST_COMMIT_DELAY_MS ?? '1000');
const digestDelay = Number(process.env.SFT_TEST_DIGEST_DELAY_MS ?? '0');
const commit = LocalFileStorage.prototype.commit;
LocalFileStorage.prototype.commit = async function (this: LocalFileStorage, ...args) {
  await sleep(commitDelay);
  return commit.apply(this, args);
};
const digest = RecordWriter.prototype.digest;
RecordWriter.prototype.digest = async function (this: RecordWriter) {
  if (digestDelay > 0) await sleep(digestDelay);
  return digest.apply(this);
};
