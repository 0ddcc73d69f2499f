// Browser test: a Firefox page (Debian's firefox-esr, over WebDriver BiDi) and a Chromium page
// meet through diemcau-bridge. Firefox's offer differs from Chromium's (its own SDP forms,
// simulcast, ICE and DTLS behaviour, its stats), and only the SDP answer was checked against
// it before: here each page must hear and see the other, and keep doing so. Then the bridge's
// sockets are seen dropping silence in the kernel (bridge/silence_filter.h) as Chromium really
// sends it, and each page, muted in turn, is heard again once it unmutes.
//
// Usage: node firefox.mjs BRIDGE_EXECUTABLE. Runs itself inside a network namespace it makes
// with only `lo` up (harness.mjs); prints TAP.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BASE, api, enterNetns, firefoxPage, launch, openPage, sleep, startBridge, stopBridge, tap } from './harness.mjs';

const bridgeExe = process.argv[2];
enterNetns('dcfirefox');
const { check, finish } = tap();

// A page's view of what it receives, from its own getStats() (run in either browser).
async function received() {
  const out = { state: '', audioPackets: 0, audioEnergy: 0, videoPackets: 0, framesDecoded: 0 };
  if (!window.diemcau || !window.diemcau.pc) return out;
  out.state = window.diemcau.pc.connectionState;
  (await window.diemcau.pc.getStats()).forEach((s) => {
    if (s.type === 'inbound-rtp' && s.kind === 'audio') {
      out.audioPackets += s.packetsReceived || 0;
      out.audioEnergy += s.totalAudioEnergy || 0;
    } else if (s.type === 'inbound-rtp' && s.kind === 'video') {
      out.videoPackets += s.packetsReceived || 0;
      out.framesDecoded += s.framesDecoded || 0;
    }
  });
  return out;
}

// Until pred holds or ms pass; a page that does not answer reads as that, in the state.
async function waitFor(get, pred, ms) {
  const end = Date.now() + ms;
  let s;
  while (Date.now() < end) {
    try {
      s = await get();
    } catch (e) {
      s = { state: `no answer from the page (${e.message})`, audioPackets: 0, audioEnergy: 0, videoPackets: 0, framesDecoded: 0 };
    }
    if (pred(s)) return s;
    await sleep(500);
  }
  return s;
}

async function main() {
  const dataDir = mkdtempSync(join(tmpdir(), 'diemcau-firefox-'));
  const { child, key } = await startBridge(bridgeExe, dataDir);
  let browser, ff;
  try {
    const hall = await api(key, 'POST', '/api/points', { name: 'Hội trường huyện', kind: 'hall', link_profile: 'hall' });
    const xa = await api(key, 'POST', '/api/points', { name: 'Xã Mường Hoong', kind: 'commune', link_profile: 'standard' });
    const now = Math.floor(Date.now() / 1000);
    const meeting = await api(key, 'POST', '/api/meetings', { title: 'Firefox', starts_at: now, ends_at: now + 3600, host_point_id: hall.id });
    const invHall = await api(key, 'POST', `/api/meetings/${meeting.id}/invitations`, { point_id: hall.id, role: 'host' });
    const invXa = await api(key, 'POST', `/api/meetings/${meeting.id}/invitations`, { point_id: xa.id });
    const link = (inv) => inv.join_link.replace(/^https:\/\/[^/]+/, BASE) + '&autojoin=1&slots=2';

    browser = await launch();
    const chrome = await openPage(browser, link(invHall));
    ff = await firefoxPage(link(invXa), join(dataDir, 'firefox-profile'));
    const inChrome = () => chrome.evaluate(received);
    const inFirefox = () => ff.evaluate(received);

    const flowing = (s) => s.state === 'connected' && s.audioPackets > 50 && s.audioEnergy > 0 && s.videoPackets > 50 &&
      s.framesDecoded > 10;
    const f = await waitFor(inFirefox, flowing, 45000);
    check(f.state === 'connected', "Firefox's media connects through the bridge", `connectionState ${f.state}, ` +
      `${f.audioPackets} audio packets and ${f.framesDecoded} frames received`);
    check(f.audioPackets > 50 && f.audioEnergy > 0, "Firefox hears Chromium's microphone (the mix)",
      `${f.audioPackets} packets, energy ${f.audioEnergy.toFixed(4)}`);
    check(f.videoPackets > 50 && f.framesDecoded > 10, "Firefox receives and decodes Chromium's camera",
      `${f.videoPackets} packets, ${f.framesDecoded} frames`);
    const c = await waitFor(inChrome, flowing, 20000);
    check(c.audioPackets > 50 && c.audioEnergy > 0, "Chromium hears Firefox's microphone (the mix)",
      `${c.audioPackets} packets, energy ${c.audioEnergy.toFixed(4)}`);
    check(c.videoPackets > 50 && c.framesDecoded > 10, "Chromium receives and decodes Firefox's camera",
      `${c.videoPackets} packets, ${c.framesDecoded} frames`);
    const before = [await inChrome(), await inFirefox()];
    await sleep(4000);
    const after = [await inChrome(), await inFirefox()];
    for (const [i, name] of [[0, 'Chromium'], [1, 'Firefox']]) {
      const audio = after[i].audioPackets - before[i].audioPackets, frames = after[i].framesDecoded - before[i].framesDecoded;
      // 4 s of the mix at 50 packets a second, and of a camera at some frames a second
      check(audio > 120 && frames > 8, `${name} keeps receiving for 4 s more`, `audio +${audio}, frames +${frames}`);
    }

    // Chromium's fake microphone beeps with digital silence between (audio level 127, too short
    // for DTX): the bridge's socket drops most of those packets, and counts them by the gaps.
    // A muted page sends next to nothing (the answer asks for DTX, and both browsers honour it:
    // 1-3 packets a second reach the bridge), so its unmute is what is checked: heard again.
    const metricsText = async () => (await fetch(`${BASE}/metrics`)).text();
    const metric = async (name) => Number(((await metricsText()).match(new RegExp(`^${name} (\\d+)`, 'm')) || [])[1]);
    const filters = await metric('diemcau_silence_filters_total');
    check(filters === 2, "both pages' sockets drop silent audio in the kernel", `${filters} sockets with the filter`);
    const s0 = await metric('diemcau_audio_silence_skipped_total');
    await sleep(3000);
    const skipped = (await metric('diemcau_audio_silence_skipped_total')) - s0;
    check(skipped >= 6, "the silence between Chromium's beeps is dropped before the bridge reads it",
      `${skipped} packets left out in 3 s`);
    const clickMute = (page) => page.evaluate(() => { document.getElementById('mute').click(); return true; });
    const energy = async (get) => (await get()).audioEnergy;
    for (const [name, page, other, otherName] of [['Firefox', ff, inChrome, 'Chromium'], ['Chromium', chrome, inFirefox, 'Firefox']]) {
      await clickMute(page);
      await sleep(1000); /* the last packets with sound, and the mix's, pass */
      const e0 = await energy(other);
      await sleep(3000);
      const heardMuted = (await energy(other)) - e0;
      await clickMute(page);
      await sleep(1000);
      const e1 = await energy(other);
      await sleep(3000);
      const heard = (await energy(other)) - e1;
      check(heard > 0 && heard > 4 * heardMuted, `${otherName} hears ${name} again once it unmutes`,
        `audio energy +${heard.toFixed(5)} in 3 s, +${heardMuted.toFixed(5)} in 3 s while it was muted`);
    }
  } finally {
    if (ff) await ff.close();
    if (browser) await browser.close();
    const code = await stopBridge(child);
    check(code === 0, 'the bridge stops cleanly on SIGTERM', `exit ${code}`);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((e) => check(false, 'the test ran to the end', String(e && e.stack || e))).finally(finish);
