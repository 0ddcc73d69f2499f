// diemcau-endpoint refused, or with nobody to talk to (issue 11): a link that is not one, a
// bridge that does not answer, a bridge whose certificate we do not trust (none pinned, or
// another one pinned), a token that is not the bridge's, an expired invitation, a withdrawn
// one, no address to send media from, no microphone, and a meeting that has ended. Each ends with its own exit code and a message in
// words, within a bound, never a crash; the bridge stays up for the next one. In a network
// namespace of the test's own (ports and addresses are ours alone).
//
// Usage: node endpoint_errors.mjs BRIDGE_EXECUTABLE ENDPOINT_EXECUTABLE. Prints TAP.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { api, endpointEnv, enterNetns, PORT, startBridge, stopBridge, tap } from './harness.mjs';

const [bridgeExe, endpointExe] = process.argv.slice(2);
enterNetns('dcenderr');
const { check, finish } = tap();

// Runs the endpoint to its end (at most 60 s); its exit code and what it said.
function run(args) {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(endpointExe, ['--audio-source', 'test:440', '--video-source', 'test', '--audio-sink', 'fake',
      '--video-sink', 'fake', ...args], { stdio: ['ignore', 'ignore', 'pipe'], env: endpointEnv() });
    let err = '';
    child.stderr.on('data', (d) => { err += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60000);
    child.on('exit', (code, sig) => {
      clearTimeout(timer);
      resolve({ code: code ?? sig, err: err.trim(), secs: (Date.now() - started) / 1000 });
    });
  });
}

// Runs the endpoint until it says `words` (at most ms), then stops it with SIGTERM. devices:
// the options that stand in for its microphone, camera and screens.
const TEST_DEVICES = ['--audio-source', 'test:440', '--video-source', 'test', '--audio-sink', 'fake', '--video-sink', 'fake'];
function runUntil(args, words, ms, devices = TEST_DEVICES, env = {}) {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(endpointExe, [...devices, ...args], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...endpointEnv(), ...env } });
    let err = '', saw = null;
    child.stderr.on('data', (d) => {
      err += d;
      if (saw === null && err.includes(words)) {
        saw = (Date.now() - started) / 1000;
        setTimeout(() => child.kill('SIGTERM'), 500); // still waiting, not ended: stop it
      }
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), ms);
    child.on('exit', (code, sig) => {
      clearTimeout(timer);
      resolve({ code: code ?? sig, err: err.trim(), saw, secs: (Date.now() - started) / 1000 });
    });
  });
}

function expect(r, code, words, name) {
  const said = r.err.split('\n').filter((l) => !l.includes('WARNING: --insecure')).slice(-2).join(' | ');
  check(r.code === code && said.includes(words), name, `exit ${r.code} after ${r.secs.toFixed(1)} s: ${said.slice(0, 300)}`);
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'diemcau-enderr-'));
  const bridge = await startBridge(bridgeExe, join(dir, 'data'));
  try {
    const fp = spawnSync('openssl', ['x509', '-in', join(dir, 'data', 'tls-cert.pem'), '-noout', '-fingerprint', '-sha256'],
      { encoding: 'utf8' }).stdout.split('=')[1].trim();
    const now = Math.floor(Date.now() / 1000);
    const meeting = await api(bridge.key, 'POST', '/api/meetings', { title: 'Họp', starts_at: now, ends_at: now + 3600 });
    const point = await api(bridge.key, 'POST', '/api/points', { name: 'Xã Ân Sơn', kind: 'commune', link_profile: 'highland' });
    const local = (link) => link.replace(/^https:\/\/[^/]+/, `https://127.0.0.1:${PORT}`);
    const invite = async (body = {}) => local((await api(bridge.key, 'POST', `/api/meetings/${meeting.id}/invitations`,
      { point_id: point.id, ...body })).join_link);
    const good = await invite();

    expect(await run(['--link', 'https://127.0.0.1/other?x=1', '--pin', fp]), 2, 'not a join link', 'a link that is not a join link: exit 2');
    expect(await run(['--link', good, '--profile', 'mountain', '--pin', fp]), 2, 'hall, standard or highland', 'an unknown profile: exit 2');
    expect(await run(['--link', good.replace(`:${PORT}`, ':18499'), '--pin', fp, '--give-up-after', '3']), 3,
      'giving up', 'no bridge at the address: retries, then exit 3');
    const untrusted = await run(['--link', good]);
    expect(untrusted, 4, `--pin ${fp}`, "a certificate nobody vouches for: exit 4, naming the fingerprint to pin");
    expect(await run(['--link', good, '--pin', fp.replace(/^../, fp.startsWith('00') ? '11' : '00')]), 4, 'not trusted',
      'another certificate than the pinned one: exit 4');
    const forged = good.replace(/token=([^&]+)/, (m, t) => `token=${t.slice(0, -4)}AAAA`);
    expect(await run(['--link', forged, '--pin', fp]), 5, 'does not accept this invitation', 'a token the bridge did not sign: exit 5');
    expect(await run(['--link', await invite({ expires_at: now - 60 }), '--pin', fp]), 6, 'expired', 'an expired invitation: exit 6');
    const withdrawn = await api(bridge.key, 'POST', `/api/meetings/${meeting.id}/invitations`, { point_id: point.id });
    await api(bridge.key, 'POST', `/api/invitations/${withdrawn.id}/revoke`);
    expect(await run(['--link', local(withdrawn.join_link), '--pin', fp]), 5, 'withdrew', 'a withdrawn invitation: exit 5');
    // This namespace has only the loopback, which ICE does not use: the endpoint joins over it
    // but finds no address to send media from. It says so within seconds and looks again (the
    // first join of an endpoint in a fresh namespace saw only the loopback once in two), rather
    // than waiting out the 20 s media timeout each time.
    expect(await run(['--link', good, '--pin', fp, '--give-up-after', '5']), 8, 'no network address to reach the bridge from',
      'no address but the loopback: says so within seconds, looks again, then exit 8');
    // A machine with no microphone that works: GStreamer's autoaudiosrc then plays silence
    // in its place and only warns, which the endpoint used to print as a GStreamer warning
    // (or, where a device opened and then failed, "autoaudiosrc0-actual-src-opena: Could not
    // open device."). Every audio source GStreamer has on Debian is ranked out here, so the
    // result does not depend on this machine's sound cards.
    const noSources = ['pulsesrc', 'alsasrc', 'openalsrc', 'jackaudiosrc', 'osssrc', 'oss4src', 'pipewiresrc']
      .map((f) => `${f}:NONE`).join(',');
    const mute = await runUntil(['--link', good, '--pin', fp, '--audio-only'], 'joined as', 20000,
      ['--audio-sink', 'fake'], { GST_PLUGIN_FEATURE_RANK: noSources });
    const muteSaid = mute.err.split('\n').find((l) => l.includes('no microphone')) || mute.err.slice(-300);
    check(mute.saw !== null && mute.err.includes('no microphone could be opened') && muteSaid.startsWith('diemcau-endpoint: ') && muteSaid.includes('--audio-source') &&
      muteSaid.includes('goes on without it') && mute.code === 0,
      'no microphone: the endpoint says so in words, names --audio-source, and joins all the same',
      `exit ${mute.code}, joined after ${mute.saw} s; said: ${muteSaid.slice(0, 300)}`);
    // A box with no screen (no X, Wayland or KMS: an unattended endpoint before any desktop,
    // this VM): autovideosink tried DirectFB's sink last, which then held the pipeline for
    // good, and the endpoint said nothing after "joined". Every other screen sink is ranked
    // out here so that DirectFB is what is left, whatever this machine has.
    const noScreens = ['xvimagesink', 'ximagesink', 'kmssink', 'waylandsink', 'gtkwaylandsink', 'glimagesink', 'glimagesinkelement']
      .map((f) => `${f}:NONE`).join(',');
    const headless = await runUntil(['--link', good, '--pin', fp, '--give-up-after', '5'], 'no screen to show the video on', 20000,
      ['--audio-source', 'test:440', '--video-source', 'test', '--audio-sink', 'fake'], { GST_PLUGIN_FEATURE_RANK: noScreens });
    const screenSaid = headless.err.split('\n').find((l) => l.includes('no screen')) || headless.err.slice(-300);
    check(headless.saw !== null && screenSaid.startsWith('diemcau-endpoint: ') && screenSaid.includes('--video-sink') &&
      screenSaid.includes('goes on without it'),
      'no screen: the endpoint says so in words, names --video-sink, and goes on',
      `exit ${headless.code}, said it after ${headless.saw} s: ${screenSaid.slice(0, 300)}`);
    // issue 13: a meeting not open yet is waited for; a cancelled one ends the endpoint
    const later = await api(bridge.key, 'POST', '/api/meetings', { title: 'Chiều nay', starts_at: now + 7200, ends_at: now + 9000 });
    const laterLink = local((await api(bridge.key, 'POST', `/api/meetings/${later.id}/invitations`, { point_id: point.id })).join_link);
    const early = await runUntil(['--link', laterLink, '--pin', fp], 'asking again in 20 s', 20000);
    check(early.saw !== null && early.err.includes('not open yet: it opens at') && early.code === 0,
      'a meeting not open yet: the endpoint says when it opens and waits (no exit until stopped)',
      `exit ${early.code}, said it after ${early.saw} s: ${early.err.split('\n').slice(-1)[0].slice(0, 200)}`);
    await api(bridge.key, 'POST', `/api/meetings/${later.id}/cancel`);
    expect(await run(['--link', laterLink, '--pin', fp]), 7, 'cancelled', 'a cancelled meeting: exit 7');
    await api(bridge.key, 'POST', `/api/meetings/${meeting.id}/end`);
    expect(await run(['--link', good, '--pin', fp]), 7, 'meeting is over', 'a meeting that has ended: exit 7');
    expect(await run(['--link', good, '--insecure']), 7, 'meeting is over', '--insecure skips the certificate check (and still hears the answer)');
    check(untrusted.err.includes('not trusted') && !untrusted.err.includes(good.split('token=')[1]),
      'the token never appears in what the endpoint prints', untrusted.err.slice(0, 200));
  } finally {
    check((await stopBridge(bridge.child)) === 0, 'the bridge stops cleanly on SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => check(false, 'the test ran to its end', String(e && e.stack || e))).finally(finish);
