// Browser test for the video router: three Chromium pages sending simulcast. Page 1 speaks
// (a tone from its fake-capture WAV), pages 2 and 3 are silent. Page 3 is a highland point:
// it asks for one slot, joins with the highland profile and sits behind a link of its own capped at 250 kbit/s (a highland link): a veth pair into a second namespace
// with a tbf qdisc on the bridge's side, so only what the bridge sends it is squeezed.
//
// Checked: the sources send more than one simulcast layer; the one-slot page gets the
// dominant speaker; the capped page's estimate brings it a lower layer (smaller frameWidth)
// than an uncapped page gets from the same source; pinning and unpinning switch every main
// slot while decoded frames never stop for long (1.5 s on the uncapped pages, which share two
// busy cores; 1 s on the capped one).
//
// Usage: node video_router.mjs BRIDGE_EXECUTABLE. Prints TAP.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { api, dropNamespace, enterNetns, launch, namespaceBehind, openPage, PORT, sleep, startBridge, stopBridge, tap } from './harness.mjs';

const bridgeExe = process.argv[2];
enterNetns('dcvideo');
const { check, finish } = tap();
const CAP_KBIT = 250;
const HERE = '10.77.0.1', THERE = '10.77.0.2'; // the capped link, inside our namespaces only

function sh(args) {
  const r = spawnSync(args[0], args.slice(1), { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${args.join(' ')}: ${r.stderr}`);
}

// The second namespace, reached from ours over a veth pair; tbf on our end caps what the
// bridge sends there (the kernel has no netem; tbf is a real bottleneck with a queue). The
// queue holds 400 ms, as a 3G or radio link's does (DESIGN.md: 150-600 ms RTT up there).
function makeCappedLink(ns) {
  namespaceBehind(ns, 'dcv0', 'dcv1', HERE, THERE);
  sh(['tc', 'qdisc', 'add', 'dev', 'dcv0', 'root', 'tbf', 'rate', `${CAP_KBIT}kbit`, 'burst', '4kb', 'latency', '400ms']);
}

// The main slot's inbound video (the first video transceiver), and what the page sends.
async function videoStats(page) {
  return page.evaluate(async () => {
    const pc = window.diemcau && window.diemcau.pc;
    if (!pc) return { frames: 0, width: 0, nacks: 0, lost: 0, layers: [], slots: [], me: 0, speaker: 0 };
    const main = pc.getTransceivers().filter((t) => t.receiver.track && t.receiver.track.kind === 'video')[0];
    let inbound = {};
    (await main.receiver.getStats()).forEach((s) => { if (s.type === 'inbound-rtp') inbound = s; });
    const layers = [];
    (await pc.getStats()).forEach((s) => {
      if (s.type === 'outbound-rtp' && s.kind === 'video') layers.push({ rid: s.rid, bytes: s.bytesSent || 0, width: s.frameWidth || 0 });
    });
    // at: when the browser read the counters (its own stats timestamp, ms since the epoch),
    // not when the answer reached the test: on a busy machine that round trip alone can
    // take most of a second, and it must not pass for a freeze.
    return { at: inbound.timestamp || Date.now(), frames: inbound.framesDecoded || 0, width: inbound.frameWidth || 0, nacks: inbound.nackCount || 0,
      // payload bytes only (webrtc-stats): the padding of the bridge's probes counts as
      // retransmitted packets, not bytes
      repaired: inbound.retransmittedPacketsReceived, repairedBytes: inbound.retransmittedBytesReceived,
      lost: inbound.packetsLost || 0, layers, slots: window.diemcau.slots || [], me: window.diemcau.me && window.diemcau.me.participant,
      speaker: window.diemcau.speaker || 0 };
  });
}

// Samples decoded frames of each page's main slot every 100 ms for ms; returns the longest
// stretch without a new frame, per page.
// A freeze is proven between two readings of the same count: from the first reading of a
// count to the last reading still showing it, each at the browser's own time. (The first
// version stamped readings when they reached the test, after the slowest of three pages
// answered, and measured busy-machine round trips as freezes: 1.1 s on a page whose main
// slot never switched.)
async function longestFreeze(pages, ms) {
  const last = (await Promise.all(pages.map(videoStats))).map((s) => ({ frames: s.frames, at: s.at }));
  const worst = pages.map(() => 0);
  const end = Date.now() + ms;
  while (Date.now() < end) {
    await sleep(100);
    const now = await Promise.all(pages.map(videoStats));
    now.forEach((s, i) => {
      if (s.frames > last[i].frames) last[i] = { frames: s.frames, at: s.at };
      worst[i] = Math.max(worst[i], Math.round(s.at - last[i].at));
    });
  }
  return worst;
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'diemcau-video-'));
  const capped = `${process.env.DC_NETNS}c`;
  const browsers = [];
  let bridge;
  try {
    makeCappedLink(capped);
    const wavs = ['sine 500 vol 0.3', 'sine 500 vol 0', 'sine 500 vol 0'].map((synth, i) => {
      const path = join(dir, `page${i + 1}.wav`);
      const r = spawnSync('sox', ['-n', '-r', '48000', '-c', '1', '-b', '16', path, 'synth', '120', ...synth.split(' ')]);
      if (r.status !== 0) throw new Error(`sox failed: ${r.stderr}`);
      return path;
    });
    // Page 1's camera: two seconds of noise, looped. Noise makes every simulcast layer run at
    // its maxBitrate (60 k / 500 k), so the upper layer cannot fit the capped link whatever
    // the encoder would make of a quieter picture.
    const snow = join(dir, 'snow.y4m');
    sh(['gst-launch-1.0', '-q', 'videotestsrc', 'pattern=snow', 'num-buffers=30', '!',
      'video/x-raw,width=640,height=360,framerate=15/1,format=I420', '!', 'y4menc', '!', 'filesink', `location=${snow}`]);
    const wrapper = join(dir, 'chromium-capped');
    writeFileSync(wrapper, `#!/bin/sh\nexec ip netns exec ${capped} /usr/bin/chromium "$@"\n`);
    chmodSync(wrapper, 0o755);

    bridge = await startBridge(bridgeExe, join(dir, 'data'), { listen: '0.0.0.0', ice: ['127.0.0.1', HERE] });
    const now = Math.floor(Date.now() / 1000);
    const meeting = await api(bridge.key, 'POST', '/api/meetings', { title: 'Họp trực tuyến', starts_at: now, ends_at: now + 3600 });
    const pages = [];
    for (let i = 0; i < 3; i++) {
      const profile = i === 2 ? 'highland' : 'standard';
      const point = await api(bridge.key, 'POST', '/api/points', { name: `Xã ${i + 1}`, kind: 'commune', link_profile: profile });
      const inv = await api(bridge.key, 'POST', `/api/meetings/${meeting.id}/invitations`,
        { point_id: point.id, role: i === 0 ? 'host' : 'participant' });
      const host = i === 2 ? HERE : '127.0.0.1';
      const url = inv.join_link.replace(/^https:\/\/[^/]+/, `https://${host}:${PORT}`) + `&autojoin=1&slots=${i === 2 ? 1 : 3}&profile=${profile}`;
      // 10.77.0.1 is not loopback: with the self-signed certificate Chromium would not count
      // the page a secure context, and a page that is not one gets no camera.
      const extra = i === 2 ? [`--unsafely-treat-insecure-origin-as-secure=https://${HERE}:${PORT}`] : [];
      if (i === 0) extra.push(`--use-file-for-fake-video-capture=${snow}`);
      const browser = await launch([`--use-file-for-fake-audio-capture=${wavs[i]}`, ...extra], i === 2 ? wrapper : undefined);
      browsers.push(browser);
      pages.push(await openPage(browser, url));
    }
    if (process.env.DEBUG_PAGES) { await sleep(5000); console.error(await pages[2].evaluate(() => JSON.stringify({e: window.diemcau.errors, t: document.body.innerText.slice(0, 400), sec: window.isSecureContext}))); }
    // Media up and the estimates settled: the capped page needs a few report intervals.
    for (let t = 0; t < 60; t++) {
      const s = await Promise.all(pages.map(videoStats));
      if (s.every((x) => x.frames > 30)) break;
      await sleep(500);
    }
    await sleep(12000);
    let stats = await Promise.all(pages.map(videoStats));
    const ids = stats.map((s) => s.me);

    const sending = stats[0].layers.filter((l) => l.bytes > 20000);
    check(sending.length >= 2, 'the speaking page sends simulcast (more than one layer)',
      stats[0].layers.map((l) => `${l.rid}:${l.width}px ${Math.round(l.bytes / 1000)} kB`).join(', '));
    check(stats.every((s) => s.speaker === ids[0]), 'the tone decides the dominant speaker: page 1',
      `speaker ${stats.map((s) => s.speaker).join(', ')}`);
    check(stats[2].slots.length === 1 && stats[2].slots[0] === ids[0] && stats[2].frames > 30,
      'the one-slot page receives the dominant speaker', `slots ${JSON.stringify(stats[2].slots)}, ${stats[2].frames} frames`);
    check(stats[1].slots[0] === ids[0], "an uncapped page's main slot shows the speaker too", `slots ${JSON.stringify(stats[1].slots)}`);
    // Widest frames over five seconds: Chromium may shrink its own layers for a while when
    // the machine is busy, for every receiver alike.
    const widest = [0, 0];
    for (let t = 0; t < 10; t++) {
      const [u, c] = await Promise.all([videoStats(pages[1]), videoStats(pages[2])]);
      widest[0] = Math.max(widest[0], u.width);
      widest[1] = Math.max(widest[1], c.width);
      await sleep(500);
    }
    check(widest[1] > 0 && widest[1] < widest[0],
      `the page behind ${CAP_KBIT} kbit/s gets a lower layer of the same source`,
      `capped ${widest[1]} px, uncapped ${widest[0]} px (widest in 5 s)`);
    // A NACK for a packet from before the slot's last switch goes unanswered on purpose (the
    // receiver decodes from the switch's key frame on), and a retransmission can meet the
    // same full tbf queue its original did: a couple of NACKs may all go unanswered (one CI
    // run: no retransmission received). A broken repair path leaves many unanswered. Counted
    // from the settled snapshot on: on a loaded machine (ASan, both cores busy) the top
    // layer's first key frame, sent before the first layer choice, overflowed the capped
    // page's pacer, and Chromium asked for those packets 122 times, from before its switch.
    const cappedNow = await videoStats(pages[2]);
    const nacksSince = cappedNow.nacks - stats[2].nacks, repairedSince = (cappedNow.repairedBytes || 0) - (stats[2].repairedBytes || 0);
    check(nacksSince < 4 || repairedSince > 0, "the capped page's NACKs are answered on its own leg",
      `${nacksSince} NACKs sent and ${repairedSince} retransmitted payload bytes received since the media settled ` +
      `(from the start: ${cappedNow.nacks} NACKs, ${cappedNow.repaired} RTX packets, ${cappedNow.repairedBytes} bytes, ${cappedNow.lost} packets lost)`);

    // The host pins page 2: pages 1 and 3 switch to it, page 2 to the next in order
    // (page 1). Then unpin: back to the speaker. Frames must keep coming throughout.
    const pin = (id) => pages[0].evaluate((p) => window.diemcau.ws.send(JSON.stringify(p ? { v: 1, type: 'pin', participant: p } : { v: 1, type: 'unpin' })), id);
    const freeze = longestFreeze(pages, 9000);
    await sleep(1500);
    await pin(ids[1]);
    await sleep(3500);
    stats = await Promise.all(pages.map(videoStats));
    const pinnedSlots = stats.map((s) => s.slots[0]);
    await pin(0);
    const worst = await freeze;
    stats = await Promise.all(pages.map(videoStats));
    check(pinnedSlots[0] === ids[1] && pinnedSlots[2] === ids[1] && pinnedSlots[1] === ids[0],
      'pinning switches every main slot', `main slots ${pinnedSlots.join(', ')}, pinned ${ids[1]}`);
    check(stats[2].slots[0] === ids[0] && stats[1].slots[0] === ids[0], 'unpinning gives the speaker back',
      `main slots ${stats.map((s) => s.slots[0]).join(', ')}`);
    // Measured with one core kept busy by another process, both builds: uncapped pages'
    // longest proven freeze 0-870 ms (870 ms on page 2, whose main slot never switches: load,
    // not a switch). A switch that misses its key frame freezes for seconds; 1.5 s tells
    // the two apart on a busy machine.
    check(worst[0] < 1500 && worst[1] < 1500, 'decoded frames never stop for 1.5 s across the switches',
      `longest gaps ${worst.map((w) => `${w} ms`).join(', ')} (the last is the capped page)`);
    // Issue 12: the capped page froze 1.6-3.5 s at a switch while its estimate, grown
    // unchecked to 430 kbit/s, chose a layer its 250 kbit/s link could not carry. With the
    // estimate bounded by what it gets (probes lift it) and the layer chosen at the switch:
    // 117-561 ms (normal build), 0-240 ms (ASan with one core kept busy; its slower polls
    // see fewer gaps). A switch that never gets its key frame stops it for the whole 9 s.
    check(worst[2] < 1000, 'the capped page never stops for 1 s across the switches', `longest gap ${worst[2]} ms`);
  } finally {
    for (const b of browsers) await b.close().catch(() => {});
    if (bridge) check((await stopBridge(bridge.child)) === 0, 'the bridge stops cleanly on SIGTERM');
    dropNamespace(capped);
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => check(false, 'the test ran to the end', String(e && e.stack || e))).finally(finish);
