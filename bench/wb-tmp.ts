import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { startHub } from '../test/web-sources/hub-server.js';
const hub = await startHub({ 'karpathy/tinyllamas': '/work/shared/data/llama2c-stories260k' }, { page: '/tmp/wb' });
const profile = mkdtempSync('/tmp/wb-profile-');
const args = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', `--user-data-dir=${profile}`, `${hub.url}/page/index.html`];
const child = spawn('/usr/bin/chromium', args, { stdio: 'ignore' });
const t0 = Date.now();
let result: string | undefined;
while (Date.now() - t0 < 120000) {
  result = hub.requests.find((r) => r.path.startsWith('/result/'))?.path;
  if (result) break;
  await new Promise((r) => setTimeout(r, 200));
}
child.kill();
console.log(result ? decodeURIComponent(result.slice('/result/'.length)) : 'NO RESULT');
console.log(hub.requests.filter((r) => r.path.includes('tinyllamas')).map((r) => `${r.method} ${r.path} ${r.range ?? ''}`).join('\n'));
await hub.close();
