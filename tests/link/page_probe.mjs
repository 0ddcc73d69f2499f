// By hand: how long a point behind a lab link waits for pages, phase by phase (curl's TCP
// connect, TLS, first byte, whole answer, bytes), and what the link did meanwhile.
//   node tests/link/page_probe.mjs BRIDGE LINKEM SCENARIO.conf [RUNS] [PATH,PATH...]
// Paths go one after the other on connections of their own (a browser fetches a page's files
// two at a time). Needs root (namespaces), as the lab does. DC_PROBE_AGAIN=1: every run after
// the first asks with the ETag its path was answered with (If-None-Match), as a browser that
// holds the page does when a clerk reloads it or opens the link again.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PORT, startBridge, stopBridge } from '../browser/harness.mjs';
import { DISTRICT, dropLab, makeLab, startLinkem } from './lab.mjs';
const [bridgeExe, linkemExe, scen, n = '6', paths = '/join'] = process.argv.slice(2);
const lab = makeLab('dcP');
const dir = mkdtempSync(join(tmpdir(), 'probe-'));
const link = await startLinkem(linkemExe, lab, scen, { seed: 3 });
const bridge = await startBridge(bridgeExe, join(dir, 'd'), { listen: '0.0.0.0', ice: [DISTRICT] });
try {
  const etags = new Map();
  for (let i = 0; i < Number(n); i++) {
    let tot = 0; const parts = [];
    for (const p of paths.split(',')) {
      const again = process.env.DC_PROBE_AGAIN === '1' && etags.has(p) ? ['-H', `If-None-Match: ${etags.get(p)}`] : [];
      // not spawnSync: node must go on reading linkem's lines meanwhile, or its pipe fills
      // (~100 s of them) and linkem, blocked writing, stops relaying: a dead link
      const r = await promisify(execFile)('ip', ['netns', 'exec', lab.point, 'curl', '-sk', '--max-time', '90',
        '--compressed', '-o', '/dev/null', '-D', '-', ...again, '-w',
        '%{http_code} %{time_connect} %{time_appconnect} %{time_starttransfer} %{time_total} %{size_download}',
        `https://${DISTRICT}:${PORT}${p}`], { encoding: 'utf8' }).catch((e) => e); // a failed curl: its output too
      const tag = r.stdout.match(/^etag: *(\S+)/im);
      if (tag) etags.set(p, tag[1]);
      const [code, c, a, s, t, sz] = r.stdout.trim().split('\n').pop().split(' ').map(Number);
      parts.push(`${p}: ${code} tcp ${c.toFixed(1)} tls ${a.toFixed(1)} first ${s.toFixed(1)} total ${t.toFixed(1)} (${sz} B)`);
      tot += t;
    }
    console.log(`run ${i}: ${tot.toFixed(1)} s   ${parts.join(' | ')}`);
  }
} finally {
  await stopBridge(bridge.child);
  console.log(JSON.stringify(await link.stop()));
  dropLab(lab);
  rmSync(dir, { recursive: true, force: true });
}
