// Browser test: two Chromium pages meet through diemcau-bridge; a third with a bad token and
// then one with an expired token are refused while the first two keep their media.
//
// Usage: node two_pages.mjs BRIDGE_EXECUTABLE. Runs itself inside a network namespace it
// makes with only `lo` up (Chromium looks up Google's hosts otherwise), starts the bridge
// on 127.0.0.1 with ICE on two loopback addresses (127.0.0.1 and 127.0.0.2, as a dual-stack
// host has two), sets the meeting up through the operator REST API, and checks each page's
// getStats() and that both pages' transports read their sockets themselves. Prints TAP.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BASE, api, enterNetns, launch, openPage, sleep, startBridge, stopBridge, tap } from './harness.mjs';

const bridgeExe = process.argv[2];
enterNetns('dcbrowser');
const { check, finish } = tap();

// What a page receives, from its own getStats().
async function stats(page) {
  return page.evaluate(async () => {
    const out = { audioPackets: 0, audioEnergy: 0, videoPackets: 0, framesDecoded: 0, frameWidth: 0, bridgeAddress: '' };
    if (!window.diemcau || !window.diemcau.pc) return out;
    const report = await window.diemcau.pc.getStats();
    report.forEach((s) => {
      if (s.type === 'transport' && s.selectedCandidatePairId) {
        const pair = report.get(s.selectedCandidatePairId);
        const remote = pair && report.get(pair.remoteCandidateId);
        if (remote) out.bridgeAddress = `${remote.address}:${remote.port}`;
      }
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
  const { child, key } = await startBridge(bridgeExe, dataDir, { ice: ['127.0.0.1', '127.0.0.2'] });
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

    browser = await launch();
    const open = (url) => openPage(browser, url);
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
    // each agent has a socket on either address: its transport reads both itself, not through
    // libnice (before, any agent with two stayed on libnice's reads, at several times the CPU)
    const metrics = await (await fetch(`${BASE}/metrics`)).text();
    const metric = (name) => Number((metrics.match(new RegExp(`^${name} (\\d+)`, 'm')) || [])[1]);
    check(metric('diemcau_direct_receive_total') === 2,
      "with ICE on two addresses, both pages' transports read their sockets themselves",
      `${metric('diemcau_direct_receive_total')} of 2; the pages reach the bridge at ${sa.bridgeAddress} and ` +
      `${sb.bridgeAddress}; paths moved ${metric('diemcau_path_moves_total')}`);
    const labelA = await a.textContent('#label0');
    check(labelA.includes('Xã Tà Xùa'), "page A's main tile carries the other point's name", labelA);

    for (const [what, token, code, words] of [['a bad token', 'dc1.bm90.YQ', 'invalid-token', 'Liên kết tham gia không hợp lệ'],
      ['an expired token', expired.token, 'expired-token', 'Liên kết tham gia đã hết hạn']]) {
      const c = await open(`${BASE}/join?meeting=${meeting.id}&token=${encodeURIComponent(token)}&autojoin=1`);
      let text = '';
      for (let i = 0; i < 20 && !text.includes(code); i++) { await sleep(250); text = await c.textContent('#status'); }
      check(text.includes(code) && text.startsWith(words), `a page with ${what} is refused with a clear error, in Vietnamese first`, text);
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
    const code = await stopBridge(child);
    check(code === 0, 'the bridge stops cleanly on SIGTERM', `exit ${code}`);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((e) => check(false, 'the test ran to the end', String(e && e.stack || e))).finally(finish);
