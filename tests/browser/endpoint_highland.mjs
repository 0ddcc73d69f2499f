// A highland commune on its link (issue 11): the compact build's endpoint, on the highland
// profile, sits in a namespace of its own behind a veth pair capped by tbf at 128 kbit/s in
// both directions (a 400 ms queue, as a 3G or radio link has); a district endpoint sits on
// a fast link of its own. Both send a tone and test video; both record the mix. Checked:
// each hears the other's tone in every one of the last 8 seconds before they leave; the highland endpoint
// sends within its profile (audio under 32 kbit/s, video under 128); each decodes the other's
// video at a rate a meeting can use; the highland endpoint's link figures (RTT over the
// queue, loss) are in its stats, and each endpoint's stats account for the sound it played
// (the highland one's downlink loses one in seven of its mix's packets, which the bridge's
// copies bring back) and where
// its recording sits in time. Once both are connected the highland uplink drops 2 audio
// packets in a row of every 10 and 1 other in 20 (nftables where the bridge receives: this
// kernel has no netem), and its endpoint, reading the loss from the bridge's reports, puts a
// copy of each audio frame in the next packet (RFC 2198), from which the bridge's mixer fills
// the frames lost; its video reaches the district repaired, and once the bridge asks again
// for its packets its camera sends FEC (RFC 5109) that the bridge takes. Its link losing in
// runs, and carrying video, the bridge sends it two copies of the mix's frames.
//
// Usage: node endpoint_highland.mjs BRIDGE_EXECUTABLE COMPACT_ENDPOINT ENDPOINT. Prints TAP.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { api, dropNamespace, enterNetns, goertzelDb, namespaceBehind, PORT, sh, sleep, spawnEndpoint, startBridge,
  stopBridge, tap, vethPair, wavSamples, wavSamplesNow } from './harness.mjs';

const [bridgeExe, compactExe, endpointExe] = process.argv.slice(2);
enterNetns('dchigh');
const { check, finish } = tap();
const CAP_KBIT = 128;
const HIGH_TONE = 440, DISTRICT_TONE = 1000;
const HERE = '10.81.0.1', THERE = '10.81.0.2', FAST = '10.81.1.1';
const LOSSY = 'dclossy'; // the nftables table that drops the highland uplink's packets
// webrtcbin's payload type for the endpoint's audio in RED (all of its audio, copies or not);
// if it changes, the check below finds nothing dropped and says so
const AUDIO_RED_PT = 97;


function makeLinks(ns) {
  namespaceBehind(ns, 'dcH0', 'dcH1', HERE, THERE);
  for (const dev of [['dcH0'], ['-n', ns, 'dcH1']]) {
    const pre = dev.length > 1 ? ['-n', ns] : [];
    sh(['tc', ...pre, 'qdisc', 'add', 'dev', dev[dev.length - 1], 'root', 'tbf', 'rate', `${CAP_KBIT}kbit`, 'burst', '4kb', 'latency', '400ms']);
  }
  // the district's fast link (webrtcbin gathers no loopback candidates)
  vethPair('dcF0', 'dcF1', FAST, '10.81.1.2');
}




const last = (ep) => ep.stats[ep.stats.length - 1] || { connected: false, frames: [0], fps: [0], kbps: {} };
// mean of a field over the last n stats lines
const mean = (ep, n, f) => { const s = ep.stats.slice(-n); return s.reduce((a, x) => a + f(x), 0) / Math.max(1, s.length); };

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'diemcau-highland-'));
  const ns = `${process.env.DC_NETNS}h`;
  let bridge;
  const eps = [];
  try {
    makeLinks(ns);
    // --red-always: every mix packet carries a copy of the frame before (RFC 2198), as on a
    // lossy link, so both endpoints' receive paths take RED apart (this link loses nothing)
    bridge = await startBridge(bridgeExe, join(dir, 'data'), { listen: '0.0.0.0', ice: [HERE, FAST], args: ['--red-always'] });
    let bridgeLog = '';
    bridge.child.stderr.on('data', (d) => { bridgeLog += d; });
    const fp = sh(['openssl', 'x509', '-in', join(dir, 'data', 'tls-cert.pem'), '-noout', '-fingerprint', '-sha256']).split('=')[1].trim();
    const now = Math.floor(Date.now() / 1000);
    const meeting = await api(bridge.key, 'POST', '/api/meetings', { title: 'Giao ban vùng cao', starts_at: now, ends_at: now + 3600 });
    const invite = async (name, profile, role, host) => {
      const point = await api(bridge.key, 'POST', '/api/points', { name, kind: 'commune', link_profile: profile });
      const inv = await api(bridge.key, 'POST', `/api/meetings/${meeting.id}/invitations`, { point_id: point.id, role });
      return inv.join_link.replace(/^https:\/\/[^/]+/, `https://${host}:${PORT}`);
    };
    const districtLink = await invite('Hội trường huyện', 'highland', 'host', '127.0.0.1');
    const highLink = await invite('Xã Đăk Mang', 'highland', 'participant', HERE);
    const common = ['--pin', fp, '--video-source', 'test', '--video-sink', 'fake', '--stats'];
    // The district sends at the highland rate too, so its video fits the commune's link. (As a
    // hall endpoint its simulcast reached the commune at 10-15 fps in three runs of four; in the
    // fourth the bridge chose the 640x360 layer, which filled the 128 kbit/s queue: a webrtcbin
    // receiver sends no REMB or transport-cc, and the bridge's estimate for a highland point
    // starts at 200 kbit/s. A follow-up for the bridge's estimate, not this test.)
    eps.push(spawnEndpoint([endpointExe], ['--link', districtLink, '--name', 'Huyện', '--profile', 'highland',
      '--audio-source', `test:${DISTRICT_TONE}`, '--audio-sink', join(dir, 'district.wav'), ...common], 'district'));
    // the compact build defaults to the highland profile: no --profile
    eps.push(spawnEndpoint(['ip', 'netns', 'exec', ns, compactExe], ['--link', highLink, '--name', 'Đăk Mang',
      '--audio-source', `test:${HIGH_TONE}`, '--audio-sink', join(dir, 'highland.wav'), ...common], 'highland'));
    const [district, high] = eps;

    let connected = false;
    for (let t = 0; t < 120 && !connected; t++) {
      connected = eps.every((e) => last(e).connected && last(e).frames[0] > 0);
      if (!connected) await sleep(500);
    }
    check(connected, 'the compact endpoint joins over the 128 kbit/s link and video flows both ways',
      eps.map((e, i) => `${i ? 'highland' : 'district'}: ${JSON.stringify(last(e)).slice(0, 240)}`).join('; '));
    // Dropped where the bridge receives, so the endpoint's sends do not fail (an output rule
    // in its namespace makes its sendmsg fail with EPERM, which is not how a link loses): two
    // audio packets in a row of every ten (told apart by the RTP payload type in the clear,
    // RFC 3711), loss in runs as a radio link's fades make it, for the copies both ways (the
    // bridge reads a link as losing in runs from six such gaps: 3.6 s of them); and one in
    // twenty of the rest (video, its repairs, RTCP, consent checks).
    sh(['nft', 'add', 'table', 'ip', LOSSY]);
    sh(['nft', 'add', 'chain', 'ip', LOSSY, 'in', '{ type filter hook input priority 0 ; }']);
    for (const [match, numgen] of [['==', ['inc', 'mod', '10', '<', '2']], ['!=', ['random', 'mod', '100', '<', '5']]])
      sh(['nft', 'add', 'rule', 'ip', LOSSY, 'in', 'ip', 'saddr', THERE, 'meta', 'l4proto', 'udp',
        '@th,72,8', '&', '0x7f', match, String(AUDIO_RED_PT), 'numgen', ...numgen, 'counter', 'drop']);
    // And one in seven (14 %) of the mix's packets on their way to the highland endpoint,
    // dropped as they come into its namespace (a link's loss, not a failed send), for the
    // concealment its stats count. Clear of the bridge's 8 % for two copies: its reports come
    // every 5 s, 83 packets, and at 10 % at random one in four of them showed under 8 %
    // (binomial; 6.3 % seen). Each one alone, not at random: the endpoint reads its mix as
    // lost in runs from six gaps averaging 1.6 packets (dc_loss_runs), and 15 % at random
    // reads so now and then (4-5 % of 20-60 s stretches, simulated), which the check of its
    // wait below would take for a fault.
    const inPoint = (args) => sh(['ip', 'netns', 'exec', ns, 'nft', ...args]);
    inPoint(['add', 'table', 'ip', LOSSY]);
    inPoint(['add', 'chain', 'ip', LOSSY, 'in', '{ type filter hook input priority 0 ; }']);
    inPoint(['add', 'rule', 'ip', LOSSY, 'in', 'ip', 'saddr', HERE, 'meta', 'l4proto', 'udp',
      '@th,72,8', '&', '0x7f', `{ ${AUDIO_RED_PT}, 111 }`, 'numgen', 'inc', 'mod', '7', '==', '0', 'counter', 'drop']);
    const lossBegan = last(high), lossBeganAt = Date.now();
    await sleep(15000);
    const hs = last(high);
    check(hs.status && hs.status.includes('Xã Đăk Mang') && hs.labels.length === 1,
      'the compact build is on the highland profile (one video slot)', `labels ${JSON.stringify(hs.labels)}`);
    // ICE-TCP only after a try that found no path: on a lossy link the TCP pair, whose checks
    // get through by retransmission, was nominated in about one join in ten, and the sound
    // then stalled a second at each loss and played more than a second late
    const retried = high.log.includes('the next try offers TCP paths too');
    check(hs.ice_tcp_candidates === 0 || retried, 'the highland endpoint offers no TCP paths on its first try',
      `${hs.ice_tcp_candidates} TCP candidates sent${retried ? ' (a try after one that found no path)' : ''}`);
    const up = { audio: mean(high, 10, (s) => s.kbps.audio_up), video: mean(high, 10, (s) => s.kbps.video_up) };
    check(up.audio > 5 && up.audio < 32 && up.video > 10 && up.video < 128,
      'the highland endpoint sends within its profile: audio under 32 kbit/s, video under 128',
      `audio ${up.audio.toFixed(1)} kbit/s, video ${up.video.toFixed(1)} kbit/s (10 s means)`);
    // the bridge's counters: one read (metric), or read anew (metricNow)
    const metricsText = async () => (await fetch(`https://127.0.0.1:${PORT}/metrics`)).text();
    const metricIn = (text, name) => Number((text.match(new RegExp(`^${name} (\\d+)`, 'm')) || [])[1]);
    const metricNow = async (name) => metricIn(await metricsText(), name);
    const metrics = await metricsText();
    const metric = (name) => metricIn(metrics, name);
    const [droppedAudio, droppedRest] = [...sh(['nft', 'list', 'table', 'ip', LOSSY]).matchAll(/counter packets (\d+)/g)]
      .map((x) => Number(x[1]));
    const fps = { district: mean(district, 10, (s) => s.fps[0]), high: mean(high, 10, (s) => s.fps[0]) };
    // The profile sends 10 fps; a meeting can use 5. Through the lossy uplink: with a 100 ms
    // jitter buffer for video the district got 3.1-8 fps of it (every loss a key frame); 300 ms
    // leaves time for the repair.
    check(fps.district >= 5, "the district decodes the highland endpoint's video through its lossy uplink",
      `${fps.district.toFixed(1)} fps (10 s mean); ${droppedRest} of the endpoint's other packets dropped, ` +
      `${metric('diemcau_upstream_nacks_total')} asked again by the bridge, ${metric('diemcau_repairs_received_total')} came, ` +
      `${metric('diemcau_keyframe_requests_total')} key frames asked for; FEC ${metric('diemcau_fec_packets_total')} in, ${metric('diemcau_fec_recovered_total')} rebuilt`);
    check(fps.high >= 5, "the highland endpoint decodes the district's video", `${fps.high.toFixed(1)} fps (10 s mean)`);
    // The camera's own parity (RFC 5109) once the bridge asks again for its packets: about a
    // fifth of its frames carry an FEC packet (~2 a second; 16-29 in 15 s measured), each of
    // which the bridge counts; what they rebuild (0-3 a run at this loss) is not checked here
    // (fec-in-the-daemon and fec-gstreamer do), but what they must not cost is: the district's
    // frame rate above, with the numbers of lost FEC packets filled.
    const parityOn = /of the camera's packets are now parity/.test(high.log);
    check(parityOn && metric('diemcau_fec_packets_total') >= 5,
      "the highland endpoint protects its camera with FEC (RFC 5109) once its uplink loses, and the bridge takes it",
      `parity ${parityOn ? 'turned on' : 'never turned on'}; the bridge got ${metric('diemcau_fec_packets_total')} FEC packets ` +
      `and rebuilt ${metric('diemcau_fec_recovered_total')} packets`);
    // a number once measured (null before); this link has no delay, and the stats round to
    // whole milliseconds, so a fast round trip reads 0 (2 runs in 5 here)
    check(typeof hs.rtt_ms === 'number' && hs.rtt_ms >= 0, 'the highland stats report the round trip over its link',
      `rtt ${hs.rtt_ms} ms, loss up ${hs.loss_up_permille}/1000, audio lost ${hs.audio_lost}, video lost ${hs.video_lost}`);

    const redOut = metric('diemcau_red_packets_out_total');
    /* both on the highland tier: a mix packet each 60 ms, for the 15 s since both connected */
    const due = eps.length * 15 * (1000 / 60);
    check(redOut >= 0.8 * due, 'the mix reaches both endpoints as RED (RFC 2198), which they offered, and they play it',
      `${redOut} RED packets sent (${due.toFixed(0)} due in 15 s; the tones heard through them are checked below)`);
    // 20 % of ~17 audio packets a second for the ~13 s after the first lossy report, in runs
    // of two: ~20 lost frames whose copy came in the next packet (the first of each run has
    // its copy in a lost one); fewer than 3 would mean the copies do not reach the mixer
    const recovered = metric('diemcau_red_frames_recovered_total');
    const copiesOn = /each packet now carries a copy/.test(high.log);
    const lostIn = Number((metrics.match(/^diemcau_packets_lost_total\{direction="in"\} (\d+)/m) || [])[1]);
    check(copiesOn && droppedAudio > 0 && recovered >= 3, "the highland endpoint's audio copies (RFC 2198) bring the bridge the frames its lossy uplink dropped",
      `${recovered} frames recovered from copies; the endpoint ${copiesOn ? 'turned its copies on' : 'never turned its copies on'} ` +
      `(${droppedAudio} of its audio packets dropped, ${lostIn} of all its packets counted lost by the bridge; its last report to the endpoint ${hs.loss_up_permille}/1000)`);
    // The recordings are judged up to here: once told to leave, each endpoint records the
    // other's absence until it stops (over a second in the ASan build once, which failed).
    const recorded = { district: wavSamplesNow(join(dir, 'district.wav')), highland: wavSamplesNow(join(dir, 'highland.wav')) };
    const recordedAt = Date.now();
    // What the stats say of the sound (the link lab measures an endpoint point's mouth to ear
    // and concealment by them): what its decoder played in the last 10 lines (a line a second,
    // the tone never stops) and concealed of it; and the wall-clock time of the recording's
    // sample 0, which with the WAV's length must give now (a file sink's buffer and a line's
    // second aside).
    // The highland endpoint's downlink loses one in seven of its mix's packets (60 ms each),
    // and the bridge's copies (RFC 2198, on once its reports say so) bring them back: of what
    // the drops since the loss began would cost, 60 ms each, the
    // endpoint concealed 80-150 % when webrtcbin threw the copies away (840-1559 ms in ten
    // seconds), 0-40 % since (copies off for the first report or two). The district's link
    // loses nothing.
    const droppedDown = Number((sh(['ip', 'netns', 'exec', ns, 'nft', 'list', 'table', 'ip', LOSSY]).match(/counter packets (\d+)/) || [])[1]);
    for (const [name, e] of [['district', district], ['highland', high]]) {
      const a = e.stats[e.stats.length - 11] || {}, b = last(e);
      const played = (b.audio_played_ms ?? 0) - (a.audio_played_ms ?? 0), concealed = (b.audio_concealed_ms ?? 0) - (a.audio_concealed_ms ?? 0);
      const bySamples = recorded[name] / 48, byClock = recordedAt - (b.recording_origin_ms ?? 0);
      const lossy = name === 'highland';
      const sinceLoss = (b.audio_concealed_ms ?? 0) - (lossBegan.audio_concealed_ms ?? 0);
      check(played >= 7000 && played <= 13000 && (lossy ? droppedDown >= 10 && sinceLoss <= 0.5 * 60 * droppedDown : concealed <= 200) &&
        Math.abs(bySamples - byClock) <= 2000,
        `the ${name} endpoint's stats account for the sound it played${lossy ? ", the bridge's copies filling most of its downlink's losses," : ''} and where its recording sits in time`,
        `${played} ms played in the last 10 lines, ${concealed} ms of it concealed` +
        `${lossy ? `; since the loss began ${sinceLoss} ms concealed for ${droppedDown} of its mix's packets dropped on the way in` : ''}; recording's origin ` +
        `${b.recording_origin_ms} (Unix ms): ${(byClock / 1000).toFixed(2)} s ago, ${(bySamples / 1000).toFixed(2)} s recorded; ` +
        `it plays ${b.playback_latency_ms} ms after the mix's time`);
    }
    // Its stats count those drops as the mix's packets lost on the way (RFC 3550's expected less
    // received), give or take the seconds between its last line and the count, at 2.5 drops a
    // second (7 short once in the ASan build on a machine running another suite: 9 allowed);
    // webrtcbin's own figure read 0 here.
    const lostDown = last(high).audio_lost;
    check(droppedDown >= 5 && lostDown >= droppedDown - 9 && lostDown <= droppedDown + 2,
      "the highland endpoint's stats count the mix's packets its downlink lost",
      `audio lost ${lostDown}, ${droppedDown} dropped on the way in`);
    // Its uplink loses in runs, so the bridge reads its link as losing so (a radio link's
    // fades), and the link carries the district's video, so it has room: its mix's packets
    // carry a second copy once its reports show the downlink's 14 % (from 8 %); the district's
    // link loses nothing. When depends on the join: the runs are counted from 10 s after its
    // audio began, from six of them (3.6 s), and the reports come about every 5 s. So this
    // waits for them, up to 40 s from the loss's start, before the outage (which holds the
    // copies back for a report or two). Read once, 23 s after the loss began and after the
    // outage, it found 0-2 such packets in two runs of twenty here and once in CI.
    let twoCopies = 0;
    while ((twoCopies = await metricNow('diemcau_red_two_copy_packets_total')) < 20 && Date.now() - lossBeganAt < 40000)
      await sleep(500);
    check(twoCopies >= 20,
      "the highland endpoint gets two audio copies (RFC 2198) once its link is seen to lose in runs",
      `${twoCopies} mix packets with two copies of ${await metricNow('diemcau_red_packets_out_total')} with any, ` +
      `${((Date.now() - lossBeganAt) / 1000).toFixed(1)} s after the loss began; the highland endpoint received ` +
      `${mean(high, 5, (s) => s.kbps.audio_down + s.kbps.video_down).toFixed(0)} kbit/s (5 s mean)`);
    // What the operators' live view shows of that downlink: the mix's loss the highland
    // endpoint reports, over 64 packets or more (one in seven: never none). Its webrtcbin
    // sends a block on the mix from each of its own streams, the first over the interval, the
    // others over nothing after it (24, 0, 0 /256) or over a few packets: the last one's 0
    // was shown, and an audio-only point's estimate heard of a clean link.
    const live = await api(bridge.key, 'GET', `/api/meetings/${meeting.id}/live`);
    const highLive = live.points.find((pt) => pt.name === 'Xã Đăk Mang')?.participants.at(-1)?.link ?? {};
    check(highLive.audio_loss_pct > 0 && highLive.audio_loss_pct <= 40,
      "the live view shows the loss the highland endpoint reports of its mix, not a report's empty blocks",
      `audio loss ${highLive.audio_loss_pct} % (its downlink drops 14 %); link ${JSON.stringify(highLive)}`);
    // The highland endpoint waits 260 ms for a late or repaired packet from the start (its
    // join says so), until its mix's losses are known: one packet a gap here, so from 25 s
    // after its audio began (10 s settling, 15 counted; dc_loss_runs) it waits as long as a
    // copy in the next packet needs: the frame's 60 ms, how much later than the earliest its
    // packets come (here the district's video shares its 128 kbit/s) and 20 ms (profile.h),
    // in a pause of the sound or, the tone never pausing, 10 s later, and tells the bridge.
    // Waited for up to 60 s from the loss's start, which began once both were connected.
    const firstWait = high.stats.find((x) => typeof x.audio_wait_ms === 'number')?.audio_wait_ms;
    // (the last it said: a busy machine's streaming threads can make its packets come later
    // than they did, and it then waits more)
    const saidWait = () => Number([...high.log.matchAll(/it now waits (\d+) ms for late or repaired packets/g)].at(-1)?.[1]);
    const lowered = () => last(high).audio_wait_ms === saidWait() && saidWait() >= 80 && saidWait() < 260 &&
      last(high).playback_latency_ms < 290 && bridgeLog.includes(`its audio now waits ${saidWait()} ms`);
    while (!lowered() && Date.now() - lossBeganAt < 60000) await sleep(250);
    const spreadThen = last(high).audio_delay_spread_ms;
    check(firstWait === 260 && lowered() && spreadThen >= 0,
      "the highland endpoint waits 260 ms for its audio until its mix's losses are seen alone, then as long as its packets' lateness needs, plays it sooner, and tells the bridge",
      `its wait ${firstWait} ms at first, ${last(high).audio_wait_ms} ms ${((Date.now() - lossBeganAt) / 1000).toFixed(1)} s after ` +
      `the lone losses began (its packets up to ${spreadThen} ms later than the earliest), playing ` +
      `${last(high).playback_latency_ms} ms after the mix's time; it ${saidWait() ? `said ${saidWait()} ms` : 'said nothing'}, ` +
      `and the bridge ${saidWait() && bridgeLog.includes(`its audio now waits ${saidWait()} ms`) ? 'was' : 'was not'} told`);
    // At the shorter wait the bridge's copies (one back, in the next packet, 60 ms on) still
    // come in time: over 6 s of the one-in-seven losses, the endpoint conceals at most half of
    // what they would cost (60 ms each), as before the wait came down.
    const droppedNow = () => Number((inPoint(['list', 'table', 'ip', LOSSY]).match(/counter packets (\d+)/) || [])[1]);
    const atLowered = last(high), droppedAtLowered = droppedNow();
    await sleep(6000);
    const lowConcealed = (last(high).audio_concealed_ms ?? 0) - (atLowered.audio_concealed_ms ?? 0);
    const lowDropped = droppedNow() - droppedAtLowered;
    check(lowDropped >= 5 && lowConcealed <= 0.5 * 60 * lowDropped,
      "at its shorter wait the highland endpoint still plays the bridge's copies of the packets its downlink lost",
      `waiting ${atLowered.audio_wait_ms} ms: ${lowConcealed} ms concealed over 6 s for ${lowDropped} of its mix's packets ` +
      `dropped on the way in (now waiting ${last(high).audio_wait_ms} ms)`);
    // A radio link's fades on the highland downlink besides its lone losses: 3 of every 10 of
    // the mix's packets in a row. Reading its mix as lost in runs, the highland endpoint waits
    // 260 ms again, for good (the copies may then reach three packets back), plays that much
    // later, and tells the bridge. Six gaps: 3.6 s of fades.
    const waitBefore = last(high).audio_wait_ms;
    inPoint(['add', 'table', 'ip', 'dcfades']);
    inPoint(['add', 'chain', 'ip', 'dcfades', 'in', '{ type filter hook input priority -5 ; }']);
    inPoint(['add', 'rule', 'ip', 'dcfades', 'in', 'ip', 'saddr', HERE, 'meta', 'l4proto', 'udp',
      '@th,72,8', '&', '0x7f', `{ ${AUDIO_RED_PT}, 111 }`, 'numgen', 'inc', 'mod', '10', '<', '3', 'counter', 'drop']);
    const fadesFrom = Date.now();
    while (!(last(high).audio_wait_ms === 260 && last(high).playback_latency_ms >= 290 &&
      bridgeLog.includes('its audio now waits 260 ms')) && Date.now() - fadesFrom < 20000) await sleep(250);
    inPoint(['delete', 'table', 'ip', 'dcfades']);
    const waited = last(high);
    check(waitBefore < 260 && waited.audio_wait_ms === 260 && waited.playback_latency_ms >= 290 &&
      bridgeLog.includes('its audio now waits 260 ms'),
      'the highland endpoint waits longer for its audio again once its mix is lost in runs, plays it later, and tells the bridge',
      `its wait ${waitBefore} ms on lone losses, ${waited.audio_wait_ms} ms ${((Date.now() - fadesFrom) / 1000).toFixed(1)} s ` +
      `into the fades, playing ${waited.playback_latency_ms} ms after the mix's time; the bridge ` +
      `${bridgeLog.includes('its audio now waits 260 ms') ? 'was' : 'was not'} told`);
    // A 2.5 s outage of the highland downlink (after the recordings are judged): the jitter
    // buffer declares the gap lost in one event, of which the decoder conceals 120 ms at most,
    // so the stats count that, not the 2.5 s (which once made played less concealed, the link
    // lab's measure of audio after an outage, read 7 s where it was back in 1); and audio from
    // packets is back within the 3 s after.
    const outageLine = high.stats.length;
    const before = last(high);
    inPoint(['add', 'table', 'ip', 'dcoutage']);
    inPoint(['add', 'chain', 'ip', 'dcoutage', 'in', '{ type filter hook input priority -10 ; }']);
    inPoint(['add', 'rule', 'ip', 'dcoutage', 'in', 'ip', 'saddr', HERE, 'meta', 'l4proto', 'udp', 'drop']);
    await sleep(2500);
    inPoint(['delete', 'table', 'ip', 'dcoutage']);
    await sleep(3500);
    const after = last(high);
    const outPlayed = (after.audio_played_ms ?? 0) - (before.audio_played_ms ?? 0);
    const outConcealed = (after.audio_concealed_ms ?? 0) - (before.audio_concealed_ms ?? 0);
    check(high.stats.length > outageLine + 3 && outConcealed <= 800 && outPlayed - outConcealed >= 1500,
      "after a 2.5 s outage of its downlink the highland endpoint plays again, counting as concealed only what its decoder made up",
      `over the 6 s from the outage: ${outPlayed} ms played, ${outConcealed} ms of it concealed`);
    for (const e of eps) e.child.kill('SIGTERM');
    const codes = await Promise.all(eps.map((e) => Promise.race([e.done, sleep(10000).then(() => 'hung')])));
    check(codes.every((c) => c === 0), 'both endpoints leave cleanly on SIGTERM', `exit ${codes.join(', ')}`);
    for (const [name, own, other] of [['district', DISTRICT_TONE, HIGH_TONE], ['highland', HIGH_TONE, DISTRICT_TONE]]) {
      const x = wavSamples(join(dir, `${name}.wav`));
      const end = Math.min(recorded[name], x.length), secs = [];
      for (let s = end - 8 * 48000; s + 48000 <= end; s += 48000)
        secs.push([goertzelDb(x, s, 48000, other), goertzelDb(x, s, 48000, own)]);
      const weakest = Math.min(...secs.map((v) => v[0])), loudestOwn = Math.max(...secs.map((v) => v[1]));
      check(secs.length >= 7 && weakest > 100 && weakest > loudestOwn + 20,
        `the ${name} endpoint hears the other's tone in each of the last 8 s before leaving, not its own`,
        `${(end / 48000).toFixed(1)} s recorded before leaving (${(x.length / 48000).toFixed(1)} in all); other ${weakest.toFixed(0)} dB at least, own ${loudestOwn.toFixed(0)} dB at most; ` +
        `each second (other/own): ${secs.map((v) => `${v[0].toFixed(0)}/${v[1].toFixed(0)}`).join(' ')}`);
    }
  } finally {
    for (const e of eps) if (e.exit === null) e.child.kill('SIGKILL');
    if (bridge) check((await stopBridge(bridge.child)) === 0, 'the bridge stops cleanly on SIGTERM');
    spawnSync('nft', ['delete', 'table', 'ip', LOSSY]);
    dropNamespace(ns);
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => check(false, 'the test ran to its end', String(e && e.stack || e))).finally(finish);
