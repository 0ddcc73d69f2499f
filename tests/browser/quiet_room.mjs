// Browser test: a page that has not spoken yet sends its quiet room as digital silence (app.js,
// quietUntilSound). Three Chromium pages joined by a click, as a clerk joins: the district's
// hall listening, and two highland points in rooms at -60 dBFS, one page as served and one with
// the hold turned off (quietstart=0) to show what the room costs without it. Each page's
// microphone is the test's own (an init script puts a WebAudio source behind getUserMedia),
// so the test says when a point speaks. Checks the held page sends DTX frames while the other
// sends whole frames, that its first word opens the hold and is heard by the hall, that the
// hold shows nowhere as a mute, that the clerk's own mute still works after it, and that a page
// which may not start audio (no click: autoplay) never holds.
//
// Usage: node quiet_room.mjs BRIDGE_EXECUTABLE. Prints TAP.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BASE, api, enterNetns, launch, openPage, pageTonesDb, sleep, startBridge, stopBridge, tap, until } from './harness.mjs';

const bridgeExe = process.argv[2];
enterNetns('dcquiet');
const { check, finish } = tap();
const TONE = 440;

// In the page before its own scripts: getUserMedia gives a room's white noise at about
// -60 dBFS and, once window.testMic.speak(true), a tone at -10 dBFS over it. refuseAudio: the
// page's own AudioContexts never start.
function fakeMicrophone({ tone, refuseAudio }) {
  const Real = AudioContext;
  if (refuseAudio) {
    window.AudioContext = class extends Real {
      constructor(options) {
        super(options);
        this.suspend();
      }

      resume() { return new Promise(() => {}); }
    };
  }
  navigator.mediaDevices.getUserMedia = async () => {
    const ac = new Real();
    // (without a click it stays suspended, and gives a silent track)
    await Promise.race([ac.resume(), new Promise((r) => setTimeout(r, 300))]);
    const noise = ac.createBuffer(1, ac.sampleRate * 2, ac.sampleRate);
    const samples = noise.getChannelData(0);
    for (let i = 0; i < samples.length; i++) samples[i] = Math.random() * 2 - 1;
    const room = ac.createBufferSource();
    room.buffer = noise;
    room.loop = true;
    const roomGain = ac.createGain();
    roomGain.gain.value = 0.001;
    const voice = ac.createOscillator();
    voice.frequency.value = tone;
    const voiceGain = ac.createGain();
    voiceGain.gain.value = 0;
    const out = ac.createMediaStreamDestination();
    room.connect(roomGain).connect(out);
    voice.connect(voiceGain).connect(out);
    room.start();
    voice.start();
    window.testMic = {
      speak(on) {
        voiceGain.gain.value = on ? 0.3 : 0;
        if (on) window.testMic.spokeAt = performance.now();
      },
    };
    return out.stream;
  };
}

// What a page sent and shows of its microphone.
function sent(page) {
  return page.evaluate(async () => {
    const d = window.diemcau;
    const out = { packets: 0, bytes: 0, connected: !!d.pc && d.pc.connectionState === 'connected', quietRoom: !!d.quietRoom,
      enabled: null, muteButton: document.getElementById('mute').textContent, at: performance.now(),
      firstSoundAt: d.firstSoundAt || 0, spokeAt: (window.testMic && window.testMic.spokeAt) || 0 };
    const track = d.pc && d.pc.getSenders().map((s) => s.track).find((t) => t && t.kind === 'audio');
    if (track) out.enabled = track.enabled;
    if (d.pc) (await d.pc.getStats()).forEach((s) => {
      if (s.type === 'outbound-rtp' && s.kind === 'audio') {
        out.packets += s.packetsSent || 0;
        out.bytes += s.bytesSent || 0;
      }
    });
    return out;
  });
}

// Packets and kbit/s a page sent over `ms` from now.
async function rate(page, ms) {
  const a = await sent(page);
  await sleep(ms);
  const b = await sent(page);
  const s = (b.at - a.at) / 1000;
  return { pps: (b.packets - a.packets) / s, kbps: (b.bytes - a.bytes) * 8 / s / 1000, last: b };
}

const fmt = (r) => `${r.pps.toFixed(1)} packets/s, ${r.kbps.toFixed(1)} kbit/s of payload`;

async function main() {
  const dataDir = mkdtempSync(join(tmpdir(), 'diemcau-quiet-'));
  const { child, key } = await startBridge(bridgeExe, dataDir);
  let browser;
  try {
    const hall = await api(key, 'POST', '/api/points', { name: 'Hội trường huyện', kind: 'hall', link_profile: 'hall' });
    const held = await api(key, 'POST', '/api/points', { name: 'Xã Pà Cò', kind: 'commune', link_profile: 'highland' });
    const open = await api(key, 'POST', '/api/points', { name: 'Xã Hang Kia', kind: 'commune', link_profile: 'highland' });
    const now = Math.floor(Date.now() / 1000);
    const meeting = await api(key, 'POST', '/api/meetings', { title: 'Phòng yên lặng', starts_at: now, ends_at: now + 3600, host_point_id: hall.id });
    const link = async (point, role, extra = '') => {
      const inv = await api(key, 'POST', `/api/meetings/${meeting.id}/invitations`, { point_id: point.id, role });
      return inv.join_link.replace(/^https:\/\/[^/]+/, BASE) + '&video=0' + extra;
    };
    browser = await launch();
    const pages = [];
    for (const url of [await link(hall, 'host'), await link(held, 'participant'), await link(open, 'participant', '&quietstart=0')]) {
      const page = await openPage(browser, url, { init: [fakeMicrophone, { tone: TONE }] });
      await page.click('#join'); // a click, as a clerk joins: the page may then start audio
      pages.push(page);
    }
    const [L, Q, U] = pages;
    const up = await until(async () => (await Promise.all(pages.map(sent))).every((s) => s.connected && s.packets > 0), 45000);
    check(!!up, 'the three pages join and send audio', JSON.stringify(await Promise.all(pages.map(sent))));

    const holding = await until(async () => (await sent(Q)).quietRoom, 10000);
    check(!!holding, "the listening point's page holds its quiet room", JSON.stringify(await sent(Q)));
    const [q, u] = await Promise.all([rate(Q, 4000), rate(U, 4000)]);
    // Without the hold, libopus sends the room as whole frames: 60 ms ones (16.7 a second) on
    // the highland tier, with their RED copies. Held, the encoder gets zeros and sends DTX
    // (measured: 5 packets a second, 0.5 kbit/s of payload against 24).
    check(u.pps >= 12, 'without the hold a quiet room goes out as whole frames (the control)', fmt(u));
    check(q.pps <= 8 && q.kbps <= u.kbps / 10, 'held, the quiet room goes out as DTX frames', `${fmt(q)}; without the hold ${fmt(u)}`);
    check(q.last.enabled === false && !q.last.muteButton.includes('Unmute') && u.last.enabled === true,
      'the hold is not a mute: the button still offers to mute', `held track enabled ${q.last.enabled}, button "${q.last.muteButton}"`);
    const roster = await L.evaluate(() => window.diemcau.roster.map((p) => ({ point: p.point, muted: !!p.muted })));
    check(roster.length === 3 && roster.every((p) => !p.muted), 'the roster shows nobody muted', JSON.stringify(roster));

    await Q.evaluate(() => window.testMic.speak(true));
    const opened = await until(async () => { const s = await sent(Q); return !s.quietRoom && s.enabled ? s : null; }, 5000, 50);
    check(!!opened, "the point's first sound opens the hold", JSON.stringify(await sent(Q)));
    const speaking = await rate(Q, 2000);
    check(speaking.pps >= 12, 'the point then sends whole frames', fmt(speaking));
    const [heard] = await pageTonesDb(L, [TONE]);
    check(heard > -60, "the hall hears the point's voice", `${TONE} Hz at ${heard.toFixed(1)} dB; the hold opened ` +
      `${opened ? (opened.firstSoundAt - opened.spokeAt).toFixed(0) : '?'} ms after the voice began`);

    await Q.evaluate(() => window.testMic.speak(false));
    await Q.click('#mute');
    const muted = await sent(Q);
    const mutedSeen = await until(async () => (await L.evaluate(() => window.diemcau.roster.find((p) => p.point === 'Xã Pà Cò')))?.muted, 5000);
    await Q.click('#mute');
    const unmuted = await sent(Q);
    check(muted.enabled === false && !!mutedSeen && unmuted.enabled === true && !unmuted.quietRoom,
      "after it the clerk's own mute mutes and unmutes, and the hold does not come back",
      `muted: track enabled ${muted.enabled}, roster ${!!mutedSeen}; unmuted: enabled ${unmuted.enabled}, held ${unmuted.quietRoom}`);

    // A page whose browser will not start its audio (autoplay, where a browser wants a click
    // first and nobody clicked) cannot hear its room: it must never hold, or its clerk would
    // never be heard. Playwright's pages count as clicked, so this one's AudioContexts are
    // made to stay suspended, as such a browser's do.
    await U.context().close();
    const late = await api(key, 'POST', '/api/points', { name: 'Xã Sín Chéng', kind: 'commune', link_profile: 'highland' });
    const A = await openPage(browser, await link(late, 'participant', '&autojoin=1'), { init: [fakeMicrophone, { tone: TONE, refuseAudio: true }] });
    const joined = await until(async () => (await sent(A)).connected, 45000);
    await sleep(2000); // past the page's 1 s wait for its audio to start
    const unheld = await sent(A);
    check(!!joined && unheld.enabled === true && !unheld.quietRoom, 'a page that may not start audio never holds its microphone',
      JSON.stringify(unheld));
  } finally {
    if (browser) await browser.close();
    const code = await stopBridge(child);
    check(code === 0, 'the bridge stops cleanly on SIGTERM', `exit ${code}`);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((e) => check(false, 'the test ran to the end', String(e && e.stack || e))).finally(finish);
