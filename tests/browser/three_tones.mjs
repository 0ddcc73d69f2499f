// Browser test for the audio mixer: three Chromium pages, each capturing its own tone from a
// WAV made here with sox (--use-file-for-fake-audio-capture, so one browser per page). In each
// page a WebAudio analyser on the received track must find the other two tones and not its
// own: everyone hears the meeting, nobody hears themselves.
//
// Usage: node three_tones.mjs BRIDGE_EXECUTABLE. Prints TAP.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { api, enterNetns, launch, openPage, pageTonesDb, sleep, startBridge, stopBridge, tap } from './harness.mjs';

const bridgeExe = process.argv[2];
enterNetns('dctones');
const { check, finish } = tap();
const TONES = [400, 750, 1200];

async function received(page) {
  return page.evaluate(async () => {
    let n = 0;
    const report = window.diemcau && window.diemcau.pc ? await window.diemcau.pc.getStats() : new Map();
    report.forEach((s) => { if (s.type === 'inbound-rtp' && s.kind === 'audio') n += s.packetsReceived || 0; });
    return n;
  });
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'diemcau-tones-'));
  const wavs = TONES.map((f) => {
    const path = join(dir, `tone-${f}.wav`);
    const r = spawnSync('sox', ['-n', '-r', '48000', '-c', '1', '-b', '16', path, 'synth', '60', 'sine', String(f), 'vol', '0.3']);
    if (r.status !== 0) throw new Error(`sox failed: ${r.stderr}`);
    return path;
  });
  const { child, key } = await startBridge(bridgeExe, join(dir, 'data'));
  const browsers = [];
  try {
    const now = Math.floor(Date.now() / 1000);
    const meeting = await api(key, 'POST', '/api/meetings', { title: 'Ba âm', starts_at: now, ends_at: now + 3600 });
    const pages = [];
    for (let i = 0; i < 3; i++) {
      const point = await api(key, 'POST', '/api/points', { name: `Xã ${i + 1}`, kind: 'commune', link_profile: 'standard' });
      const role = i === 0 ? 'host' : 'participant'; /* page 1 hosts: it may pin */
      const inv = await api(key, 'POST', `/api/meetings/${meeting.id}/invitations`, { point_id: point.id, role });
      const url = inv.join_link.replace(/^https:\/\/[^/]+/, `https://127.0.0.1:18443`) + '&autojoin=1&slots=1&rawaudio=1';
      const browser = await launch([`--use-file-for-fake-audio-capture=${wavs[i]}`, '--autoplay-policy=no-user-gesture-required']);
      browsers.push(browser);
      pages.push(await openPage(browser, url));
    }
    for (let t = 0; t < 60; t++) {
      const counts = await Promise.all(pages.map(received));
      if (counts.every((c) => c > 150)) break;
      await sleep(500);
    }
    await sleep(2000); /* let the talker set and the jitter buffers settle */
    const speakers = await Promise.all(pages.map((p) => p.evaluate(() => window.diemcau.speaker || 0)));
    const ids = await Promise.all(pages.map((p) => p.evaluate(() => window.diemcau.roster.map((r) => r.participant))));
    check(speakers.every((s) => s && s === speakers[0]) && ids[0].includes(speakers[0]),
      'every page is told the same dominant speaker', `speaker ${speakers.join(', ')}`);
    const maps = await Promise.all(pages.map((p) => p.evaluate(() => ({ me: window.diemcau.me.participant, slots: window.diemcau.slots || [] }))));
    check(maps.every((m) => m.me === speakers[0] ? m.slots[0] && m.slots[0] !== m.me : m.slots[0] === speakers[0]),
      "the main slot shows the dominant speaker (to everyone but the speaker)", JSON.stringify(maps));
    // The host pins page 3's point: every main slot shows it (page 3 sees another), and
    // video keeps decoding across the switch; unpinning gives the speaker back.
    const me = maps.map((m) => m.me);
    const frames = () => Promise.all(pages.map((p) => p.evaluate(async () => {
      let n = 0;
      (await window.diemcau.pc.getStats()).forEach((s) => { if (s.type === 'inbound-rtp' && s.kind === 'video') n += s.framesDecoded || 0; });
      return n;
    })));
    await pages[0].evaluate((id) => window.diemcau.ws.send(JSON.stringify({ v: 1, type: 'pin', participant: id })), me[2]);
    await sleep(1500);
    const before = await frames();
    await sleep(2000);
    const after = await frames();
    const pinned = await Promise.all(pages.map((p) => p.evaluate(() => window.diemcau.slots[0])));
    check(pinned[0] === me[2] && pinned[1] === me[2] && pinned[2] !== me[2] && pinned[2],
      "pinning puts the pinned point in every main slot", `main slots ${pinned.join(', ')}, pinned ${me[2]}`);
    check(after.every((f, i) => f > before[i] + 10), 'video keeps decoding after the switch',
      `frames +${after.map((f, i) => f - before[i]).join(', +')}`);
    await pages[1].evaluate(() => window.diemcau.ws.send(JSON.stringify({ v: 1, type: 'pin', participant: 1 })));
    await sleep(500);
    const refused = await pages[1].evaluate(() => window.diemcau.errors.join(' | '));
    check(refused.includes('not-allowed'), 'a participant who is not the host cannot pin', refused);
    await pages[0].evaluate(() => window.diemcau.ws.send(JSON.stringify({ v: 1, type: 'unpin' })));
    await sleep(1000);
    /* equal tones trade the dominant place: compare with the speaker each page knows now */
    const state = await Promise.all(pages.map((p) => p.evaluate(() => ({ main: window.diemcau.slots[0], speaker: window.diemcau.speaker, me: window.diemcau.me.participant }))));
    check(state.every((n) => n.me === n.speaker ? n.main && n.main !== n.me : n.main === n.speaker),
      'unpinning returns the main slot to the dominant speaker', JSON.stringify(state));
    for (let i = 0; i < 3; i++) {
      const heard = await pageTonesDb(pages[i], TONES);
      const own = heard[i], others = heard.filter((_, k) => k !== i);
      const detail = TONES.map((f, k) => `${f} Hz ${heard[k].toFixed(1)} dB`).join(', ');
      check(others.every((d) => d > -70), `page ${i + 1} hears both other tones`, detail);
      check(others.every((d) => d > own + 20), `page ${i + 1} does not hear its own tone`, detail);
    }
  } finally {
    for (const b of browsers) await b.close();
    check((await stopBridge(child)) === 0, 'the bridge stops cleanly on SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => check(false, 'the test ran to the end', String(e && e.stack || e))).finally(finish);
