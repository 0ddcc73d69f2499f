// The native endpoint with the bridge and a browser (issue 11). In a namespace of our own:
// a Chromium page (the host, a 700 Hz tone and its fake camera) and two diemcau-endpoint
// processes (440 Hz and 1000 Hz tones, test video; the second on the highland profile)
// join one meeting. Checked: each endpoint's recording of the mix holds the others' tones
// and not its own (Goertzel, second by second); the page hears both endpoints; each side
// decodes the other's video (the endpoint's --stats, the page's getStats); the endpoints'
// slot labels name the points in them; when the host pins the second endpoint, the first
// endpoint's main slot shows it. The endpoints trust the bridge's self-signed certificate
// by its pinned fingerprint (--pin), as an installer would set them up.
//
// webrtcbin's libnice gathers no loopback candidates: the namespace gets a veth pair of its
// own (10.80.0.1, 10.80.0.2) and the bridge offers 10.80.0.1 beside 127.0.0.1.
//
// Usage: node endpoint_page.mjs BRIDGE_EXECUTABLE ENDPOINT_EXECUTABLE. Prints TAP.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { api, enterNetns, goertzelDb, launch, openPage, pageTonesDb, PORT, sh, sleep, spawnEndpoint, startBridge,
  stopBridge, tap, vethPair, wavSamples, wavSamplesNow } from './harness.mjs';

const [bridgeExe, endpointExe] = process.argv.slice(2);
enterNetns('dcendp');
const { check, finish } = tap();
const PAGE_TONE = 700, EP_TONES = [440, 1000];
const HERE = '10.80.0.1';




function startEndpoint(link, name, tone, wav, profile, fp) {
  return spawnEndpoint([endpointExe], ['--link', link, '--name', name, '--pin', fp, '--profile', profile,
    '--audio-source', `test:${tone}`, '--video-source', 'test', '--audio-sink', wav, '--video-sink', 'fake', '--stats',
    '--slots', '2'], name);
}

const last = (ep) => ep.stats[ep.stats.length - 1] || { frames: [0], labels: [], connected: false };

async function pageVideoFrames(page) {
  return page.evaluate(async () => {
    let n = 0;
    const pc = window.diemcau && window.diemcau.pc;
    if (!pc) return 0;
    (await pc.getStats()).forEach((s) => { if (s.type === 'inbound-rtp' && s.kind === 'video') n += s.framesDecoded || 0; });
    return n;
  });
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'diemcau-endpoint-'));
  vethPair('dcE0', 'dcE1', HERE, '10.80.0.2');
  const wav = join(dir, 'page.wav');
  sh(['sox', '-n', '-r', '48000', '-c', '1', '-b', '16', wav, 'synth', '120', 'sine', String(PAGE_TONE), 'vol', '0.3']);
  const bridge = await startBridge(bridgeExe, join(dir, 'data'), { listen: '0.0.0.0', ice: ['127.0.0.1', HERE] });
  const fp = sh(['openssl', 'x509', '-in', join(dir, 'data', 'tls-cert.pem'), '-noout', '-fingerprint', '-sha256']).split('=')[1].trim();
  let browser;
  const eps = [];
  try {
    const now = Math.floor(Date.now() / 1000);
    const meeting = await api(bridge.key, 'POST', '/api/meetings', { title: 'Giao ban', starts_at: now, ends_at: now + 3600 });
    const invite = async (name, profile, role) => {
      const point = await api(bridge.key, 'POST', '/api/points', { name, kind: 'commune', link_profile: profile });
      const inv = await api(bridge.key, 'POST', `/api/meetings/${meeting.id}/invitations`, { point_id: point.id, role });
      return inv.join_link.replace(/^https:\/\/[^/]+/, `https://127.0.0.1:${PORT}`);
    };
    const pageLink = await invite('Hội trường huyện', 'standard', 'host');
    const epLinks = [await invite('Xã Đăk Mang', 'standard', 'participant'), await invite('Xã Bok Tới', 'highland', 'participant')];
    browser = await launch([`--use-file-for-fake-audio-capture=${wav}`, '--autoplay-policy=no-user-gesture-required']);
    const page = await openPage(browser, `${pageLink}&autojoin=1&slots=3&rawaudio=1`);
    eps.push(startEndpoint(epLinks[0], 'Máy điểm cầu 1', EP_TONES[0], join(dir, 'ep1.wav'), 'standard', fp));
    eps.push(startEndpoint(epLinks[1], 'Máy điểm cầu 2', EP_TONES[1], join(dir, 'ep2.wav'), 'highland', fp));

    // Until everyone is connected and video flows (at most 60 s), then 10 s of meeting.
    let connectedAt = null;
    for (let t = 0; t < 120 && connectedAt === null; t++) {
      const frames = await pageVideoFrames(page);
      if (eps.every((e) => last(e).connected && last(e).frames[0] > 0) && frames > 0) connectedAt = Date.now();
      else await sleep(500);
    }
    check(connectedAt !== null, 'both endpoints and the page connect through the bridge',
      eps.map((e, i) => `endpoint ${i + 1}: ${JSON.stringify(last(e)).slice(0, 200)}`).join('; '));
    // The main slot's rate over the 10 s, not the last second's: the three tones take turns
    // as the speaker, and a switch waits for the new source's key frame (the highland
    // endpoint's come seldom), so one second's count may rightly be 0.
    const mainBefore = eps.map((e) => last(e).frames[0]);
    const windowFrom = Date.now();
    await sleep(10000);
    const heard = await pageTonesDb(page, [PAGE_TONE, ...EP_TONES]);
    check(heard[1] > -60 && heard[2] > -60 && heard[0] < Math.min(heard[1], heard[2]) - 20,
      'the page hears both endpoints, not itself', `dBFS own ${heard[0].toFixed(1)}, endpoints ${heard[1].toFixed(1)} / ${heard[2].toFixed(1)}`);
    const pageFrames = await pageVideoFrames(page);
    check(pageFrames > 60, "the page decodes the endpoints' video", `${pageFrames} frames decoded`);
    eps.forEach((e, i) => {
      const s = last(e);
      const rate = (s.frames[0] - mainBefore[i]) / ((Date.now() - windowFrom) / 1000);
      check(s.frames[0] > 30 && rate > 3, `endpoint ${i + 1} decodes video in its main slot`,
        `${rate.toFixed(1)} fps over the meeting's ${((Date.now() - windowFrom) / 1000).toFixed(1)} s; frames ${JSON.stringify(s.frames)}, last second's fps ${JSON.stringify(s.fps)}`);
    });
    const ep1 = last(eps[0]);
    check(ep1.labels.some((l) => l.startsWith('Hội trường huyện')) && ep1.labels.every((l) => !l.startsWith('Xã Đăk Mang')),
      "endpoint 1's slot labels name the points in them (never itself)", `labels ${JSON.stringify(ep1.labels)}`);
    check(typeof ep1.rtt_ms === 'number' && ep1.kbps.audio_up > 5 && ep1.kbps.video_down > 20,
      'the stats line reports round trip and bitrates both ways', JSON.stringify(ep1).slice(0, 300));
    const ep2 = last(eps[1]);
    // highland: Opus at 14 kbit/s in 60 ms frames (about 19 kbit/s with RTP, UDP and SRTP) and
    // VP8 within 80 kbit/s at 320x180
    check(ep2.kbps.audio_up < 30 && ep2.kbps.video_up < 130, 'the highland endpoint sends within its profile',
      `audio ${ep2.kbps.audio_up} kbit/s, video ${ep2.kbps.video_up} kbit/s up`);
    // Each plays the mix its jitter buffer's wait (standard 100 ms, highland 260, until its
    // mix's losses are known; once seen absent, about 25 s in, the frame, how late its packets
    // come and 20 ms: 40 ms or more on standard, 80 on highland) and little more after the
    // mix's time: the playback's latency found again once the mix joined it (found before, it
    // left the wait out, or a query that came through later counted it twice). The standard
    // one holds a 20 ms frame for in-band FEC besides; both mix 30 ms.
    // (A line just after a wait changed may show the playback's latency before it was found
    // again: up to 5 s of lines are read for a settled one.)
    const settled = (e, least, most, hold) => e.audio_wait_ms >= least && e.audio_wait_ms <= most &&
      e.playback_latency_ms >= e.audio_wait_ms + hold + 30 && e.playback_latency_ms <= e.audio_wait_ms + hold + 80;
    const standardSettled = (e) => settled(e, 40, 100, 20), highSettled = (e) => settled(e, 80, 260, 0);
    let std = ep1, high = ep2;
    for (let t = 0; t < 10 && !(standardSettled(std) && highSettled(high)); t++) {
      await sleep(500);
      std = last(eps[0]), high = last(eps[1]);
    }
    const plays = [std.playback_latency_ms, high.playback_latency_ms], highWait = high.audio_wait_ms;
    check(standardSettled(std) && highSettled(high),
      'each endpoint plays the mix as late as its jitter buffer waits, and little more',
      `standard waits ${std.audio_wait_ms} ms and plays ${plays[0]} ms, highland waits ${highWait} ms and plays ` +
      `${plays[1]} ms after the mix's time`);

    // The host pins endpoint 2: endpoint 1's main slot shows it.
    const ids = await page.evaluate(() => window.diemcau.roster.map((p) => [p.point, p.participant]));
    const ep2Id = (ids.find(([point]) => point === 'Xã Bok Tới') || [])[1];
    await page.evaluate((p) => window.diemcau.ws.send(JSON.stringify({ v: 1, type: 'pin', participant: p })), ep2Id);
    let pinned = null;
    const framesBefore = last(eps[0]).frames[0];
    for (let t = 0; t < 20 && !pinned; t++) {
      await sleep(500);
      const s = last(eps[0]);
      if (s.labels[0] && s.labels[0].startsWith('Xã Bok Tới') && s.frames[0] > framesBefore + 10) pinned = s;
    }
    check(pinned !== null, "the host pins endpoint 2: endpoint 1's main slot shows it, frames flowing",
      `participant ${ep2Id}; endpoint 1 now: labels ${JSON.stringify(last(eps[0]).labels)}, frames ${last(eps[0]).frames}`);

    // Both recordings: from 2 s after everyone connected to the end, second by second.
    // judged up to here: once told to leave, an endpoint records the others' absence
    const recorded = eps.map((e, i) => wavSamplesNow(join(dir, `ep${i + 1}.wav`)));
    for (const e of eps) e.child.kill('SIGTERM');
    const codes = await Promise.all(eps.map((e) => Promise.race([e.done, sleep(10000).then(() => 'hung')])));
    check(codes.every((c) => c === 0), 'the endpoints leave cleanly on SIGTERM', `exit ${codes.join(', ')}`);
    eps.forEach((e, i) => {
      const x = wavSamples(join(dir, `ep${i + 1}.wav`));
      const others = [PAGE_TONE, EP_TONES[1 - i]], own = EP_TONES[i];
      // the recording runs on the wall clock from the endpoint's start; take the last 8 s
      // before it was told to leave
      const end = Math.min(recorded[i], x.length), secs = [];
      for (let s = end - 8 * 48000; s + 48000 <= end; s += 48000)
        secs.push([...others.map((f) => goertzelDb(x, s, 48000, f)), goertzelDb(x, s, 48000, own)]);
      const weakest = Math.min(...secs.flatMap((v) => v.slice(0, 2))), loudestOwn = Math.max(...secs.map((v) => v[2]));
      check(secs.length >= 7 && weakest > 100 && weakest > loudestOwn + 20,
        `endpoint ${i + 1}'s recording holds the page's and the other endpoint's tones, not its own`,
        `${(end / 48000).toFixed(1)} s recorded before leaving (${(x.length / 48000).toFixed(1)} in all); others ${weakest.toFixed(0)} dB at least, own ${loudestOwn.toFixed(0)} dB at most`);
    });
  } finally {
    for (const e of eps) if (e.exit === null) e.child.kill('SIGKILL');
    if (browser) await browser.close().catch(() => {});
    check((await stopBridge(bridge.child)) === 0, 'the bridge stops cleanly on SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => check(false, 'the test ran to its end', String(e && e.stack || e))).finally(finish);
