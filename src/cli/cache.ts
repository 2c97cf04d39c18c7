/** `weft cache ls` / `weft cache clear`: the download cache of models loaded from URLs and hub ids. */
import { clearCache, defaultCacheDir, listCache } from '../files/cache.js';
import { WeftError } from '../errors.js';
import { parseOptions } from './common.js';

const USAGE = `usage: weft cache ls|clear [--cache-dir DIR]

  ls                       list the cached files (key: hub/<org>/<name>/<revision>/<file> or url/<host>/<path>) and sizes
  clear                    delete every cached file
  --cache-dir DIR          the cache folder (default: $XDG_CACHE_HOME/weft, else ~/.cache/weft)`;

export async function run(argv: string[]): Promise<number> {
  const [action, ...rest] = argv;
  const { values } = parseOptions(rest, { 'cache-dir': { type: 'string' } }, USAGE);
  if (values.help || action === '--help' || action === '-h') {
    console.log(USAGE);
    return 0;
  }
  const cacheDir = values['cache-dir'] ?? (await defaultCacheDir());
  if (action === 'ls') {
    const entries = await listCache({ cacheDir });
    for (const e of entries) console.log(`${String(e.bytes).padStart(12)}  ${e.key}`);
    const total = entries.reduce((sum, e) => sum + e.bytes, 0);
    console.error(`${entries.length} file(s), ${(total / 1e6).toFixed(1)} MB in ${cacheDir}`);
    return 0;
  }
  if (action === 'clear') {
    await clearCache({ cacheDir });
    console.error(`cleared ${cacheDir}`);
    return 0;
  }
  throw new WeftError('E_OPTION', `weft cache: unknown action '${action ?? ''}'\n${USAGE}`);
}
