// Creates a new embedded-database directory (PGlite's initdb) and exits. Run by openDatabase in a
// child process the first time a data directory is used: initdb runs in a second PGlite instance
// with its own WebAssembly memory; in the broker's own process that left a first-run broker
// ~540 MB larger (nothing collects it while the broker idles, and ~140 MiB of it stays even
// after a full GC). Here it goes away with the child.
// Plain JavaScript so it runs from dist and the Docker image as it is.
import { PGlite } from '@electric-sql/pglite';

const dataDir = process.argv[2];
if (!dataDir) {
  process.stderr.write('usage: pglite-init.mjs <data directory>\n');
  process.exit(2);
}
const pglite = await PGlite.create(dataDir);
await pglite.close();
