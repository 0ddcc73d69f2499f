// Browser test: two Chromium pages meet through diemcau-bridge; a third with a bad token and
// then one with an expired token are refused while the first two keep their media.
//
// Usage: node two_pages.mjs BRIDGE_EXECUTABLE. Runs itself inside a network namespace it
// makes with only `lo` up (Chromium looks up Google's hosts otherwise), starts the bridge
// on 127.0.0.1 with loopback-only ICE, sets the meeting up through the operator REST API,
// and checks each page's getStats(). Prints TAP.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const bridgeExe = process.argv[2];
const PORT = 18443;
const BASE = `https://127.0.0.1:${PORT}`;

if (!process.env.DC_NETNS) {
  const ns = `dcbrowser${process.pid}`;
  const run = (args) => spawnSync('ip', args, { stdio: 'inherit' });
  run(['netns', 'add', ns]);
  let status = 1;
  try {
    run(['-n', ns, 'link', 'set', 'lo', 'up']);
    mkdirSync(`/etc/netns/${ns}`, { recursive: true });
    writeFileSync(`/etc/netns/${ns}/resolv.conf`, 'nameserver 127.0.0.1\n');
    const r = spawnSync('ip', ['netns', 'exec', ns, process.execPath, ...process.argv.slice(1)],
      { stdio: 'inherit', env: { ...process.env, DC_NETNS: ns } });
    status = r.status ?? 1;
  } finally {
    run(['netns', 'delete', ns]);
    rmSync(`/etc/netns/${ns}`, { recursive: true, force: true });
  }
  process.exit(status);
}

process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0'; // the bridge's self-signed certificate, on loopback
const results = [];
const check = (ok, name, detail = '') => { results.push({ ok, name, detail }); };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function startBridge(dataDir) {
  return new Promise((resolve, reject) => {
    const child = spawn(bridgeExe, ['--data-dir', dataDir, '--listen', '127.0.0.1', '--port', String(PORT),
      '--ice-address', '127.0.0.1', '--workers', '2'], { stdio: ['ignore', 'pipe', 'pipe'] });
    // Ready once it has printed the operator key (stdout) and is listening (stderr log).
    let out = '', err = '';
    const ready = () => {
      const m = out.match(/Operator API key \(shown once, keep it\): (\S+)/);
      if (m && err.includes('listening on')) resolve({ child, key: m[1] });
    };
    child.stderr.on('data', (d) => { err += d; process.stderr.write(`  [bridge] ${d}`); ready(); });
    child.stdout.on('data', (d) => { out += d; ready(); });
    child.on('exit', (code) => reject(new Error(`bridge exited with ${code}`)));
    setTimeout(() => reject(new Error('bridge did not start within 30 s')), 30000);
  });
}

async function api(key, method, path, body) {
  const r = await fetch(BASE + path, { method, headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
    body: body ? JSON.stringify(body) : undefined });
  const json = await r.json();
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(json)}`);
  return json;
}

// What a page receives, from its own getStats().
async function stats(page) {
  return page.evaluate(async () => {
    const out = { audioPackets: 0, audioEnergy: 0, videoPackets: 0, framesDecoded: 0, frameWidth: 0 };
    if (!window.diemcau || !window.diemcau.pc) return out;
    const report = await window.diemcau.pc.getStats();
    report.forEach((s) => {
      if (s.type !== 'inbound-rtp') return;
      if (s.kind === 'audio') {
        out.audioPackets += s.packetsReceived || 0;
        out.audioEnergy += s.totalAudioEnergy || 0;
      } else {
        out.videoPackets += s.packetsReceived || 0;
        out.framesDecoded += s.framesDecoded || 0;
        out.frameWidth = Math.max(out.frameWidth, s.frameWidth || 0);
      }
    });
    return out;
  });
}

async function waitFor(page, pred, ms) {
  const end = Date.now() + ms;
  let s;
  while (Date.now() < end) {
    s = await stats(page);
    if (pred(s)) return s;
    await sleep(500);
  }
  return s;
}

async function main() {
  const dataDir = mkdtempSync(join(tmpdir(), 'diemcau-browser-'));
  const { child, key } = await startBridge(dataDir);
  let browser;
  try {
    const hall = await api(key, 'POST', '/api/points', { name: 'Hội trường huyện', kind: 'hall', link_profile: 'hall' });
    const xa = await api(key, 'POST', '/api/points', { name: 'Xã Tà Xùa', kind: 'commune', link_profile: 'highland' });
    const now = Math.floor(Date.now() / 1000);
    const meeting = await api(key, 'POST', '/api/meetings', { title: 'Kiểm thử', starts_at: now, ends_at: now + 3600, host_point_id: hall.id });
    const inv1 = await api(key, 'POST', `/api/meetings/${meeting.id}/invitations`, { point_id: hall.id, role: 'host' });
    const inv2 = await api(key, 'POST', `/api/meetings/${meeting.id}/invitations`, { point_id: xa.id });
    const expired = await api(key, 'POST', `/api/meetings/${meeting.id}/invitations`, { point_id: xa.id, expires_at: now - 60 });
    const link = (inv) => inv.join_link.replace(/^https:\/\/[^/]+/, BASE) + '&autojoin=1&slots=2';

    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--use-fake-device-for-media-stream',
      '--use-fake-ui-for-media-stream', '--allow-loopback-in-peer-connection'] });
    const open = async (url) => {
      const ctx = await browser.newContext({ ignoreHTTPSErrors: true, permissions: ['camera', 'microphone'] });
      const page = await ctx.newPage();
      page.on('console', (m) => { if (m.type() === 'error') process.stderr.write(`  [page] ${m.text()}\n`); });
      await page.goto(url);
      return page;
    };
    const a = await open(link(inv1));
    const b = await open(link(inv2));
    const flowing = (s) => s.audioPackets > 50 && s.audioEnergy > 0 && s.videoPackets > 50 && s.framesDecoded > 10;
    const sa = await waitFor(a, flowing, 45000);
    const sb = await waitFor(b, flowing, 15000);
    for (const [name, s] of [['A', sa], ['B', sb]]) {
      check(s.audioPackets > 50, `page ${name} receives the other's audio`, `${s.audioPackets} packets`);
      check(s.audioEnergy > 0, `page ${name} hears a non-zero audio level`, `energy ${s.audioEnergy.toFixed(4)}`);
      check(s.videoPackets > 50, `page ${name} receives the other's video`, `${s.videoPackets} packets`);
      check(s.framesDecoded > 10, `page ${name} decodes video frames`, `${s.framesDecoded} frames, ${s.frameWidth} px wide`);
    }
    const labelA = await a.textContent('#label0');
    check(labelA.includes('Xã Tà Xùa'), "page A's main tile carries the other point's name", labelA);

    for (const [what, token, code] of [['a bad token', 'dc1.bm90.YQ', 'invalid-token'],
      ['an expired token', expired.token, 'expired-token']]) {
      const c = await open(`${BASE}/join?meeting=${meeting.id}&token=${encodeURIComponent(token)}&autojoin=1`);
      let text = '';
      for (let i = 0; i < 20 && !text.includes(code); i++) { await sleep(250); text = await c.textContent('#status'); }
      check(text.includes(code), `a page with ${what} is refused with a clear error`, text);
      await c.context().close();
    }
    const before = [await stats(a), await stats(b)];
    await sleep(3000);
    const after = [await stats(a), await stats(b)];
    for (const i of [0, 1])
      check(after[i].audioPackets > before[i].audioPackets && after[i].framesDecoded > before[i].framesDecoded,
        `page ${'AB'[i]} keeps its media after the refused joins`,
        `audio +${after[i].audioPackets - before[i].audioPackets}, frames +${after[i].framesDecoded - before[i].framesDecoded}`);
  } finally {
    if (browser) await browser.close();
    child.kill('SIGTERM');
    const code = await new Promise((r) => { child.on('exit', (c, sig) => r(c ?? sig)); setTimeout(() => r('timeout'), 10000); });
    check(code === 0, 'the bridge stops cleanly on SIGTERM', `exit ${code}`);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((e) => check(false, 'the test ran to the end', String(e && e.stack || e))).finally(() => {
  console.log(`1..${results.length}`);
  results.forEach((r, i) => console.log(`${r.ok ? 'ok' : 'not ok'} ${i + 1} ${r.name}${r.detail ? ' # ' + r.detail : ''}`));
  process.exit(results.every((r) => r.ok) ? 0 : 1);
});
