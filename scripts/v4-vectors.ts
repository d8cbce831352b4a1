/** Writes docs/protocol-v4-vectors.json from test/support/v4-vectors.ts (run after a deliberate wire change). */
import { writeFileSync } from 'node:fs';
import { computeV4Vectors } from '../test/support/v4-vectors';

const out = new URL('../docs/protocol-v4-vectors.json', import.meta.url);
writeFileSync(out, `${JSON.stringify(await computeV4Vectors(), null, 2)}\n`);
console.log(`wrote ${out.pathname}`);
