/* Unit tests for media/mixer, by signal: each synthetic participant sends a distinct tone
 * encoded with libopus; listeners decode what the mixer sends them, and Goertzel filters
 * tell which tones are in it. */
#include <glib.h>
#include <math.h>
#include <opus.h>
#include <string.h>

#include "media/mixer.h"

typedef struct {
  int slot;
  OpusEncoder *enc;
  double freq, amp, phase;
  uint16_t seq;
  uint32_t ts;
  int frame; /* samples per packet */
  bool no_level; /* send without the RFC 6464 level, as some endpoints do */
} sender;

static void sender_init(sender *s, dc_mixer *m, dc_tier tier, double freq, double dbfs, bool fec) {
  memset(s, 0, sizeof *s);
  int err;
  s->enc = opus_encoder_create(48000, 1, OPUS_APPLICATION_VOIP, &err);
  opus_encoder_ctl(s->enc, OPUS_SET_BITRATE(32000));
  opus_encoder_ctl(s->enc, OPUS_SET_INBAND_FEC(fec));
  opus_encoder_ctl(s->enc, OPUS_SET_PACKET_LOSS_PERC(fec ? 20 : 0));
  s->slot = dc_mixer_add(m, tier);
  g_assert_cmpint(s->slot, >=, 0);
  s->freq = freq;
  s->amp = 32767.0 * pow(10.0, dbfs / 20.0);
  s->frame = 960;
  s->seq = (uint16_t)g_random_int();
  s->ts = g_random_int();
}

/* Encodes the next frame and pushes it, unless drop; the level extension carries its dBov. */
static void sender_send(sender *s, dc_mixer *m, uint64_t now, bool drop) {
  int16_t pcm[2880];
  for (int i = 0; i < s->frame; i++) {
    pcm[i] = (int16_t)(s->amp * sin(s->phase));
    s->phase += 2 * G_PI * s->freq / 48000.0;
  }
  uint8_t pkt[1600];
  dc_rtp_header h = {.payload_type = 111, .seq = s->seq++, .timestamp = s->ts, .ssrc = 1};
  size_t hl = dc_rtp_write_header(pkt, sizeof pkt, &h, NULL, 0);
  int n = opus_encode(s->enc, pcm, s->frame, pkt + hl, (opus_int32)(sizeof pkt - hl));
  s->ts += (uint32_t)s->frame;
  if (drop)
    return;
  dc_rtp r;
  g_assert_cmpint(dc_rtp_parse(&r, pkt, hl + (size_t)n), ==, DC_OK);
  int level = s->amp < 1 ? 127 : (int)CLAMP(-20.0 * log10(s->amp / sqrt(2) / 32767.0), 0, 127);
  dc_mixer_push(m, s->slot, &r, s->no_level ? -1 : level, now);
}

typedef struct {
  int slot;
  OpusDecoder *dec;
  GArray *pcm; /* int16 */
} listener;

static void listener_init(listener *l, int slot) {
  int err;
  l->slot = slot;
  l->dec = opus_decoder_create(48000, 1, &err);
  l->pcm = g_array_new(FALSE, FALSE, sizeof(int16_t));
}

static void listener_take(listener *l, dc_mixer *m) {
  const dc_mixer_packet *p = dc_mixer_packet_for(m, l->slot);
  if (!p)
    return;
  int16_t out[2880];
  int n = opus_decode(l->dec, p->payload, (opus_int32)p->len, out, 2880, 0);
  g_assert_cmpint(n, ==, (int)p->samples);
  g_array_append_vals(l->pcm, out, (guint)n);
}

static void listener_clear(listener *l) {
  opus_decoder_destroy(l->dec);
  g_array_unref(l->pcm);
}

/* Power of one frequency over pcm[from, from + n), in dB (Goertzel). */
static double tone_db(const GArray *pcm, guint from, guint n, double freq) {
  double k = 2 * cos(2 * G_PI * freq / 48000.0), s1 = 0, s2 = 0;
  for (guint i = from; i < from + n && i < pcm->len; i++) {
    double s0 = g_array_index(pcm, int16_t, i) + k * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  double power = s1 * s1 + s2 * s2 - k * s1 * s2;
  return 10 * log10(power / n + 1e-9);
}

static dc_mixer *make_mixer(unsigned k) {
  dc_mixer_config cfg = {.max_participants = 64, .talkers = k};
  GError *err = NULL;
  dc_mixer *m = dc_mixer_new(&cfg, &err);
  g_assert_no_error(err);
  return m;
}

static void test_everyone_hears_talkers_not_themselves(void) {
  dc_mixer *m = make_mixer(3);
  const double tones[] = {440, 700, 1100};
  sender talk[3], quiet[2];
  for (int i = 0; i < 3; i++)
    sender_init(&talk[i], m, DC_TIER_STANDARD, tones[i], -12, true);
  for (int i = 0; i < 2; i++)
    sender_init(&quiet[i], m, i ? DC_TIER_HALL : DC_TIER_STANDARD, 1500 + 300 * i, -200, false);
  listener lt[3], lq[2];
  for (int i = 0; i < 3; i++)
    listener_init(&lt[i], talk[i].slot);
  for (int i = 0; i < 2; i++)
    listener_init(&lq[i], quiet[i].slot);
  uint64_t now = 1000000;
  for (int tick = 0; tick < 150; tick++, now += 20000) {
    for (int i = 0; i < 3; i++)
      sender_send(&talk[i], m, now, false);
    for (int i = 0; i < 2; i++)
      sender_send(&quiet[i], m, now, false);
    dc_mixer_tick(m, now);
    for (int i = 0; i < 3; i++)
      listener_take(&lt[i], m);
    for (int i = 0; i < 2; i++)
      listener_take(&lq[i], m);
  }
  int slots[8];
  g_assert_cmpuint(dc_mixer_talkers(m, slots, 8), ==, 3);
  guint from = 48000, n = 96000; /* the last two seconds, after the buffers settled */
  for (int q = 0; q < 2; q++) /* listeners hear exactly the three talkers */
    for (int i = 0; i < 3; i++)
      g_assert_cmpfloat(tone_db(lq[q].pcm, from, n, tones[i]), >, 60);
  for (int q = 0; q < 2; q++)
    g_assert_cmpfloat(tone_db(lq[q].pcm, from, n, 1500 + 300 * q), <, tone_db(lq[q].pcm, from, n, 440) - 40);
  for (int i = 0; i < 3; i++) { /* a talker hears the others, and itself 40 dB below them */
    double own = tone_db(lt[i].pcm, from, n, tones[i]);
    for (int j = 0; j < 3; j++)
      if (j != i) {
        double other = tone_db(lt[i].pcm, from, n, tones[j]);
        g_test_message("talker %d: own tone %.1f dB, another talker's %.1f dB", i, own, other);
        g_assert_cmpfloat(other, >, own + 40);
      }
  }
  for (int i = 0; i < 3; i++) {
    opus_encoder_destroy(talk[i].enc);
    listener_clear(&lt[i]);
  }
  for (int i = 0; i < 2; i++) {
    opus_encoder_destroy(quiet[i].enc);
    listener_clear(&lq[i]);
  }
  dc_mixer_free(m);
}

static bool is_talker(dc_mixer *m, int slot) {
  int slots[8];
  size_t n = dc_mixer_talkers(m, slots, 8);
  for (size_t i = 0; i < n; i++)
    if (slots[i] == slot)
      return true;
  return false;
}

static void run_ticks(dc_mixer *m, sender *s, int ns, int ticks, uint64_t *now) {
  for (int t = 0; t < ticks; t++, *now += 20000) {
    for (int i = 0; i < ns; i++)
      sender_send(&s[i], m, *now, false);
    dc_mixer_tick(m, *now);
  }
}

static void test_hysteresis(void) {
  dc_mixer *m = make_mixer(2);
  sender s[3];
  sender_init(&s[0], m, DC_TIER_STANDARD, 440, -10, false); /* A: loud */
  sender_init(&s[1], m, DC_TIER_STANDARD, 700, -25, false); /* B */
  sender_init(&s[2], m, DC_TIER_STANDARD, 900, -200, false); /* C: silent for now */
  uint64_t now = 1000000;
  run_ticks(m, s, 3, 20, &now);
  g_assert_true(is_talker(m, s[0].slot) && is_talker(m, s[1].slot));
  g_assert_cmpint(dc_mixer_dominant(m), ==, s[0].slot);
  s[2].amp = 32767.0 * pow(10.0, -22 / 20.0); /* C: 3 dB above B: not enough to take over */
  run_ticks(m, s, 3, 30, &now);
  g_assert_false(is_talker(m, s[2].slot));
  g_assert_true(is_talker(m, s[1].slot));
  s[2].amp = 32767.0 * pow(10.0, -12 / 20.0); /* C: 13 dB above B: takes B's place */
  run_ticks(m, s, 3, 10, &now);
  g_assert_true(is_talker(m, s[2].slot));
  g_assert_false(is_talker(m, s[1].slot));
  /* A falls silent while B still talks: B, louder than a silent talker, takes A's place. */
  s[0].amp = 0;
  run_ticks(m, s, 3, 5, &now);
  g_assert_true(is_talker(m, s[1].slot));
  g_assert_false(is_talker(m, s[0].slot));
  /* With nobody else wanting the place, a silent talker keeps it through the hold time. */
  s[0].amp = 32767.0 * pow(10.0, -10 / 20.0);
  s[1].amp = 0;
  run_ticks(m, s, 3, 20, &now);
  g_assert_true(is_talker(m, s[0].slot));
  s[0].amp = 0;
  run_ticks(m, s, 3, 20, &now);  /* 400 ms */
  g_assert_true(is_talker(m, s[0].slot));
  run_ticks(m, s, 3, 20, &now);  /* 800 ms */
  g_assert_false(is_talker(m, s[0].slot));
  g_assert_cmpint(dc_mixer_dominant(m), ==, s[2].slot);
  for (int i = 0; i < 3; i++)
    opus_encoder_destroy(s[i].enc);
  dc_mixer_free(m);
}

/* The tone changes exactly at a lost packet. With in-band FEC the new tone is recovered in
 * that frame; concealment (no FEC) would continue the old tone there. */
/* The first frame the listener heard the tone change of change_frame() in (440 → 1200 Hz);
 * frees what the run made. */
static int first_heard_and_free(dc_mixer *m, sender *s, listener *l) {
  int first = -1;
  for (guint f = 0; f + 960 <= l->pcm->len && first < 0; f += 960)
    if (tone_db(l->pcm, f, 960, 1200) > tone_db(l->pcm, f, 960, 440) + 10)
      first = (int)(f / 960);
  opus_encoder_destroy(s->enc);
  listener_clear(l);
  dc_mixer_free(m);
  return first;
}

/* counted: the mixer's account of the lost frame (frames concealed, played from FEC) */
static int change_frame(bool fec, bool lose, unsigned counted[2]) {
  dc_mixer *m = make_mixer(3);
  sender s;
  sender_init(&s, m, DC_TIER_STANDARD, 440, -12, fec);
  listener l;
  listener_init(&l, dc_mixer_add(m, DC_TIER_HALL));
  uint64_t now = 1000000;
  counted[0] = counted[1] = 0;
  for (int t = 0; t < 120; t++, now += 20000) {
    if (t == 60)
      s.freq = 1200;
    sender_send(&s, m, now, lose && t == 60);
    dc_mixer_tick(m, now);
    dc_mixer_stats st = dc_mixer_get_stats(m);
    counted[0] += st.concealed;
    counted[1] += st.fec_played;
    listener_take(&l, m);
  }
  return first_heard_and_free(m, &s, &l);
}

static void test_fec_recovers_a_loss(void) {
  unsigned n_clean[2], n_fec[2], n_plc[2];
  int clean = change_frame(true, false, n_clean);
  int recovered = change_frame(true, true, n_fec);
  int concealed = change_frame(false, true, n_plc);
  g_test_message("new tone first heard in frame %d (no loss), %d (FEC), %d (PLC); frames the mixer counted "
                 "concealed / from FEC: %u/%u, %u/%u, %u/%u",
                 clean, recovered, concealed, n_clean[0], n_clean[1], n_fec[0], n_fec[1], n_plc[0], n_plc[1]);
  g_assert_cmpint(clean, >, 0);
  g_assert_cmpint(recovered, ==, clean);
  g_assert_cmpint(concealed, >, clean);
  /* what /metrics says of a talker's uplink (diemcau_mix_frames_concealed_total, _fec_total) */
  g_assert_cmpuint(n_clean[0] + n_clean[1], ==, 0);
  g_assert_cmpuint(n_fec[0], ==, 0);
  g_assert_cmpuint(n_fec[1], ==, 1);
  g_assert_cmpuint(n_plc[0], ==, 1);
  g_assert_cmpuint(n_plc[1], ==, 0);
}

/* RED (RFC 2198): the lost packet's frame arrives as a copy in the next one, and playout
 * plays it instead of concealing on; a copy of a frame already there, or
 * too late to play, changes nothing. The lost frame alone is a 2000 Hz tone: heard_lost
 * says whether the listener heard it (louder than either tone around it in some frame). */
static int change_frame_red(bool recover, bool late_copy, bool *heard_lost, uint64_t *longest_wait_us) {
  dc_mixer *m = make_mixer(3);
  sender s;
  sender_init(&s, m, DC_TIER_STANDARD, 440, -12, false);
  listener l;
  listener_init(&l, dc_mixer_add(m, DC_TIER_HALL));
  uint64_t now = 1000000;
  uint8_t lost[1600];
  int lost_len = 0;
  uint16_t lost_seq = 0;
  uint32_t lost_ts = 0;
  for (int t = 0; t < 120; t++, now += 20000) {
    if (t == 60) {
      s.freq = 1200;
      /* encode frame 60 by hand: it is "lost" on the way, its copy kept */
      int16_t pcm[960];
      for (int i = 0; i < 960; i++) {
        pcm[i] = (int16_t)(s.amp * sin(s.phase));
        s.phase += 2 * G_PI * 2000 / 48000.0;
      }
      lost_len = opus_encode(s.enc, pcm, 960, lost, sizeof lost);
      lost_seq = s.seq++;
      lost_ts = s.ts;
      s.ts += 960;
    } else {
      sender_send(&s, m, now, false);
      if (t == (late_copy ? 70 : 61) && recover)
        dc_mixer_push_recovered(m, s.slot, lost_seq, lost_ts, lost, (size_t)lost_len, now);
      if (t == 62 && recover) /* a second copy of the same frame: already there */
        dc_mixer_push_recovered(m, s.slot, lost_seq, lost_ts, lost, (size_t)lost_len, now);
    }
    dc_mixer_tick(m, now);
    dc_mixer_stats st = dc_mixer_get_stats(m);
    if (st.played)
      *longest_wait_us = MAX(*longest_wait_us, st.played_wait_us / st.played);
    listener_take(&l, m);
  }
  *heard_lost = false;
  for (guint f = 0; f + 960 <= l.pcm->len; f += 960)
    *heard_lost = *heard_lost || (tone_db(l.pcm, f, 960, 2000) > tone_db(l.pcm, f, 960, 440) &&
                                  tone_db(l.pcm, f, 960, 2000) > tone_db(l.pcm, f, 960, 1200));
  return first_heard_and_free(m, &s, &l);
}

static void test_red_copy_recovers_a_loss(void) {
  bool lost_recovered, lost_concealed, lost_late;
  unsigned counted[2];
  uint64_t wait_recovered = 0, wait_concealed = 0, wait_late = 0;
  int clean = change_frame(false, false, counted);
  int recovered = change_frame_red(true, false, &lost_recovered, &wait_recovered);
  int concealed = change_frame_red(false, false, &lost_concealed, &wait_concealed);
  int late = change_frame_red(true, true, &lost_late, &wait_late);
  g_test_message("new tone first heard in frame %d (no loss), %d (RED copy), %d (PLC), %d (copy too late); "
                 "the lost frame heard: %d, %d, %d; the longest wait counted in a tick: %" G_GUINT64_FORMAT
                 ", %" G_GUINT64_FORMAT ", %" G_GUINT64_FORMAT " us",
                 clean, recovered, concealed, late, lost_recovered, lost_concealed, lost_late, wait_recovered,
                 wait_concealed, wait_late);
  /* a copy waits from when its packet came (it once counted from the slot's previous packet,
   * 32 frames before: /metrics said RED's talkers waited 330 ms in the bridge) */
  g_assert_cmpuint(wait_recovered, <, 60000);
  g_assert_cmpint(clean, >, 0);
  /* the missing frame was concealed once while it was due (playout waited a frame for it),
   * then the copy played: the new tone comes at most a frame late, and before concealment's
   * (packets here come at the tick itself, with nothing to spare: playout keeps a frame) */
  g_assert_cmpint(recovered, <=, clean + 1);
  g_assert_cmpint(recovered, <, concealed);
  g_assert_true(lost_recovered);
  g_assert_false(lost_concealed);
  g_assert_false(lost_late);
  g_assert_cmpint(late, ==, concealed);
}

/* Whether an Opus packet of one SILK or hybrid frame carries in-band FEC (LBRR): the flag
 * follows the frame's VAD flags at the start of its range-coded data (RFC 6716 §4.2.3-4.2.4;
 * libopus 1.5's opus_packet_has_lbrr reads it the same way). Mono only. */
static bool has_lbrr(const uint8_t *pkt, size_t len) {
  if (len < 2 || (pkt[0] & 3) != 0 || (pkt[0] >> 3) >= 16)
    return false; /* several frames, or CELT only: no SILK layer */
  int ms = (pkt[0] >> 3) < 12 ? (int[]){10, 20, 40, 60}[(pkt[0] >> 3) & 3] : 20;
  int silk_frames = ms <= 20 ? 1 : ms / 20;
  return (pkt[1] >> (7 - silk_frames)) & 1;
}

/* In-band FEC follows the loss listeners report: the policy's numbers, and a tier's mix that
 * carries no FEC at 0 % expected loss and carries it once its listeners lose packets. */
static void test_expected_loss_follows_reports(void) {
  g_assert_cmpuint(dc_mixer_expected_loss_policy(DC_TIER_HALL, 0), ==, 0);
  g_assert_cmpuint(dc_mixer_expected_loss_policy(DC_TIER_STANDARD, 0), ==, 5);
  g_assert_cmpuint(dc_mixer_expected_loss_policy(DC_TIER_HIGHLAND, 0), ==, 7);
  g_assert_cmpuint(dc_mixer_expected_loss_policy(DC_TIER_STANDARD, 26), ==, 13); /* 10 % + a quarter */
  g_assert_cmpuint(dc_mixer_expected_loss_policy(DC_TIER_HIGHLAND, 255), ==, 30);
  /* RED: none on a clean link, one copy, two on deep loss, but on the highland tier only
   * where the loss comes in runs */
  g_assert_cmpuint(dc_mixer_red_depth_policy(DC_TIER_STANDARD, 0, false), ==, 0);
  g_assert_cmpuint(dc_mixer_red_depth_policy(DC_TIER_STANDARD, 10, false), ==, 1);
  g_assert_cmpuint(dc_mixer_red_depth_policy(DC_TIER_STANDARD, 30, false), ==, 2);
  g_assert_cmpuint(dc_mixer_red_depth_policy(DC_TIER_HIGHLAND, 30, false), ==, 1);
  g_assert_cmpuint(dc_mixer_red_depth_policy(DC_TIER_HIGHLAND, 30, true), ==, 2);
  g_assert_cmpuint(dc_mixer_red_depth_policy(DC_TIER_HIGHLAND, 10, true), ==, 1);
  g_assert_cmpuint(dc_mixer_red_depth_policy(DC_TIER_HIGHLAND, 0, true), ==, 0);
  g_assert_cmpuint(dc_mixer_red_depth_policy(DC_TIER_HALL, 5, false), ==, 1);
  /* how far back the copies reach, for a listener that does not say its wait: one copy two
   * frames back where a highland link loses in runs (a run of two repaired whole), else the
   * frames just before */
  g_assert_cmpuint(dc_mixer_red_reach_policy(DC_TIER_HIGHLAND, 1, true, 0), ==, 2);
  g_assert_cmpuint(dc_mixer_red_reach_policy(DC_TIER_HIGHLAND, 1, false, 0), ==, 1);
  g_assert_cmpuint(dc_mixer_red_reach_policy(DC_TIER_HIGHLAND, 2, true, 0), ==, 2);
  g_assert_cmpuint(dc_mixer_red_reach_policy(DC_TIER_STANDARD, 1, true, 0), ==, 1);
  g_assert_cmpuint(dc_mixer_red_reach_policy(DC_TIER_HIGHLAND, 0, true, 0), ==, 0);
  /* one that says it: as far as the wait allows with the margin to spare (the highland
   * endpoint's 260 ms: three 60 ms frames; 200 ms: two), never past the history nor nearer
   * than its copies; the standard endpoint's 100 ms at 20 ms frames: one. Whatever the bridge
   * saw of runs on its uplink (a quiet endpoint's uplink is DTX: nothing to see); the
   * endpoint says 140 (one back) itself once its losses come alone. */
  g_assert_cmpuint(dc_mixer_red_reach_policy(DC_TIER_HIGHLAND, 1, false, 260), ==, 3);
  g_assert_cmpuint(dc_mixer_red_reach_policy(DC_TIER_HIGHLAND, 2, false, 260), ==, 3);
  g_assert_cmpuint(dc_mixer_red_reach_policy(DC_TIER_HIGHLAND, 1, false, 140), ==, 1);
  g_assert_cmpuint(dc_mixer_red_reach_policy(DC_TIER_HIGHLAND, 1, true, 260), ==, 3);
  g_assert_cmpuint(dc_mixer_red_reach_policy(DC_TIER_HIGHLAND, 2, true, 260), ==, 3);
  g_assert_cmpuint(dc_mixer_red_reach_policy(DC_TIER_HIGHLAND, 1, true, 259), ==, 2);
  g_assert_cmpuint(dc_mixer_red_reach_policy(DC_TIER_HIGHLAND, 1, true, 200), ==, 2);
  g_assert_cmpuint(dc_mixer_red_reach_policy(DC_TIER_HIGHLAND, 1, true, 100), ==, 1); /* less than a frame to spare */
  g_assert_cmpuint(dc_mixer_red_reach_policy(DC_TIER_HIGHLAND, 2, true, 100), ==, 2);
  g_assert_cmpuint(dc_mixer_red_reach_policy(DC_TIER_HIGHLAND, 1, true, 2000), ==, DC_RED_REACH_MAX);
  g_assert_cmpuint(dc_mixer_red_reach_policy(DC_TIER_STANDARD, 1, true, 100), ==, 1);
  g_assert_cmpuint(dc_mixer_red_reach_policy(DC_TIER_STANDARD, 1, true, 140), ==, 3);
  g_assert_cmpuint(dc_mixer_red_reach_policy(DC_TIER_STANDARD, 1, false, 100), ==, 1);
  g_assert_cmpuint(dc_mixer_red_reach_policy(DC_TIER_HIGHLAND, 0, true, 260), ==, 0);
  for (unsigned depth = 0; depth <= DC_RED_DEPTH_MAX; depth++)
    for (int runs = 0; runs < 2; runs++)
      for (int t = 0; t < DC_TIER_COUNT; t++)
        for (unsigned wait = 0; wait <= 2000; wait += 20) {
          unsigned reach = dc_mixer_red_reach_policy((dc_tier)t, depth, runs, wait);
          g_assert_cmpuint(reach, >=, depth);
          g_assert_cmpuint(reach, <=, DC_RED_REACH_MAX);
        }

  dc_mixer *m = make_mixer(3);
  sender s;
  sender_init(&s, m, DC_TIER_HALL, 300, -12, false);
  int listener_slot = dc_mixer_add(m, DC_TIER_STANDARD);
  uint64_t now = 1000000;
  int with_fec[2] = {0, 0}, packets[2] = {0, 0};
  for (int phase = 0; phase < 2; phase++) {
    dc_mixer_set_expected_loss(m, DC_TIER_STANDARD, phase ? 25 : 0);
    for (int t = 0; t < 100; t++, now += 20000) {
      s.freq = 300 + 50 * ((t / 10) % 5); /* a changing voice-like tone keeps SILK busy */
      sender_send(&s, m, now, false);
      dc_mixer_tick(m, now);
      const dc_mixer_packet *p = dc_mixer_packet_for(m, listener_slot);
      if (p && t >= 20) {
        packets[phase]++;
        with_fec[phase] += has_lbrr(p->payload, p->len);
      }
    }
  }
  g_test_message("packets with in-band FEC: %d of %d at 0 %% expected loss, %d of %d at 25 %%",
                 with_fec[0], packets[0], with_fec[1], packets[1]);
  g_assert_cmpint(with_fec[0], ==, 0);
  g_assert_cmpint(with_fec[1], >, packets[1] / 2);
  opus_encoder_destroy(s.enc);
  dc_mixer_free(m);
}

static void test_highland_60ms(void) {
  dc_mixer *m = make_mixer(3);
  sender s;
  sender_init(&s, m, DC_TIER_STANDARD, 600, -12, false);
  listener l;
  listener_init(&l, dc_mixer_add(m, DC_TIER_HIGHLAND));
  uint64_t now = 1000000;
  int packets = 0;
  for (int t = 0; t < 90; t++, now += 20000) {
    sender_send(&s, m, now, false);
    dc_mixer_tick(m, now);
    const dc_mixer_packet *p = dc_mixer_packet_for(m, l.slot);
    if (p) {
      g_assert_cmpuint(p->samples, ==, 2880);
      g_assert_cmpuint(p->len, <, 160); /* ~14 kbit/s */
      packets++;
    }
    listener_take(&l, m);
  }
  g_assert_cmpint(packets, ==, 30); /* one per three ticks */
  g_assert_cmpfloat(tone_db(l.pcm, 48000, 48000, 600), >, 55);
  opus_encoder_destroy(s.enc);
  listener_clear(&l);
  dc_mixer_free(m);
}

/* A tier with DC_MIX_BIG_TIER members sends its shared mix in 40 ms frames, from the end of
 * a frame, and a talker picked then gets its own in them too; one that talked before keeps
 * its 20 ms; below four fifths of the mark the tier goes back. A listener hears the talker
 * throughout, and every tick's sound exactly once: no frame cut short or sent twice. */
static void test_big_room_40ms(void) {
  dc_mixer_config cfg = {.max_participants = 128, .talkers = 3};
  dc_mixer *m = dc_mixer_new(&cfg, NULL);
  sender a, b = {0};
  sender_init(&a, m, DC_TIER_STANDARD, 440, -12, false);
  listener l;
  listener_init(&l, dc_mixer_add(m, DC_TIER_STANDARD));
  int quiet[DC_MIX_BIG_TIER];
  int members = 2, n_quiet = 0;
  while (members < DC_MIX_BIG_TIER - 1)
    quiet[n_quiet++] = dc_mixer_add(m, DC_TIER_STANDARD), members++;
  uint64_t now = 1000000;
  int ticks = 0;
  unsigned counts[2][3] = {{0}}; /* [listener, talker a][960, 1920, other] */
  bool b_in = false;
  unsigned b_frames[3] = {0};
  for (int phase = 0; phase < 3; phase++) {
    if (phase == 1) { /* the room grows past the mark */
      quiet[n_quiet++] = dc_mixer_add(m, DC_TIER_STANDARD), members++;
      g_assert_cmpint(members, ==, DC_MIX_BIG_TIER);
    }
    if (phase == 2) /* and shrinks below the way back */
      while (members >= DC_MIX_BIG_TIER * 4 / 5)
        dc_mixer_remove(m, quiet[--n_quiet]), members--;
    for (int t = 0; t < 50; t++, ticks++, now += 20000) {
      sender_send(&a, m, now, false);
      if (phase == 1 && t == 10) { /* a second voice, once the tier is in 40 ms */
        sender_init(&b, m, DC_TIER_STANDARD, 900, -12, false);
        members++, b_in = true;
      }
      if (b_in)
        sender_send(&b, m, now, false);
      dc_mixer_tick(m, now);
      const dc_mixer_packet *p = dc_mixer_packet_for(m, l.slot), *pa = dc_mixer_packet_for(m, a.slot);
      if (p)
        counts[0][p->samples == 960 ? 0 : p->samples == 1920 ? 1 : 2]++;
      if (pa)
        counts[1][pa->samples == 960 ? 0 : pa->samples == 1920 ? 1 : 2]++;
      const dc_mixer_packet *pb = b_in ? dc_mixer_packet_for(m, b.slot) : NULL;
      if (pb && phase == 1)
        b_frames[pb->samples == 960 ? 0 : pb->samples == 1920 ? 1 : 2]++;
      listener_take(&l, m);
      if (phase == 0 && t == 49)
        g_assert_cmpuint(dc_mixer_tier_frame(m, DC_TIER_STANDARD), ==, 960);
      if (phase == 1 && t == 49)
        g_assert_cmpuint(dc_mixer_tier_frame(m, DC_TIER_STANDARD), ==, 1920);
    }
  }
  g_assert_cmpuint(dc_mixer_tier_frame(m, DC_TIER_STANDARD), ==, 960);
  /* 50 ticks of 20 ms, 25 of 40 (the switch waits for no frame: the tier is between frames
   * after every 20 ms one), then back after the 40 ms frame in progress */
  g_assert_cmpuint(counts[0][2], ==, 0);
  g_assert_cmpuint(counts[0][1], >=, 24);
  g_assert_cmpuint(counts[0][0], >=, 99);
  g_assert_cmpuint(counts[1][1], ==, 0); /* a talker from before keeps its 20 ms */
  g_assert_cmpuint(b_frames[1], >=, 15);  /* one picked in the big room takes 40 */
  g_assert_cmpuint(b_frames[0], ==, 0);
  /* every tick's sound once: what the listener decoded is the ticks' length, less a frame at most */
  g_assert_cmpuint(l.pcm->len, <=, (guint)ticks * 960);
  g_assert_cmpuint(l.pcm->len, >=, (guint)ticks * 960 - 1920);
  for (guint at = 48000; at + 24000 <= l.pcm->len; at += 24000)
    g_assert_cmpfloat(tone_db(l.pcm, at, 24000, 440), >, 55);
  g_assert_cmpfloat(tone_db(l.pcm, 60 * 960, 30 * 960, 900), >, 55);
  opus_encoder_destroy(a.enc);
  opus_encoder_destroy(b.enc);
  listener_clear(&l);
  dc_mixer_free(m);
}

/* The highland mix comes with a smaller copy of each frame, for the redundancy of the next
 * packet: a receiver that lost a primary and plays its copy in its place still hears both
 * talkers, each within 10 dB of the primary and on average within 2 (the decoder goes from
 * one encoder's stream to another's; a narrowband copy fell 16 dB short on a frame, 4 dB on
 * average), and a copy costs fewer bytes than its primary. */
static void test_highland_copy_stands_in(void) {
  dc_mixer *m = make_mixer(3);
  const double tones[] = {440, 900};
  sender s[2];
  for (int i = 0; i < 2; i++)
    sender_init(&s[i], m, DC_TIER_STANDARD, tones[i], -15, false);
  int slot = dc_mixer_add(m, DC_TIER_HIGHLAND);
  dc_mixer_want_copies(m, DC_TIER_HIGHLAND, true); /* its listener takes RED */
  int err;
  OpusDecoder *clean = opus_decoder_create(48000, 1, &err), *lossy = opus_decoder_create(48000, 1, &err);
  GArray *pcm_clean = g_array_new(FALSE, FALSE, sizeof(int16_t)), *pcm_lossy = g_array_new(FALSE, FALSE, sizeof(int16_t));
  GArray *stood_in = g_array_new(FALSE, FALSE, sizeof(guint)); /* where a copy played */
  size_t primary_bytes = 0, copy_bytes = 0;
  int packets = 0, copies = 0;
  uint64_t now = 1000000;
  for (int t = 0; t < 150; t++, now += 20000) {
    for (int i = 0; i < 2; i++)
      sender_send(&s[i], m, now, false);
    dc_mixer_tick(m, now);
    const dc_mixer_packet *p = dc_mixer_packet_for(m, slot);
    if (!p)
      continue;
    packets++;
    int16_t out[2880];
    g_assert_cmpint(opus_decode(clean, p->payload, (opus_int32)p->len, out, 2880, 0), ==, 2880);
    g_array_append_vals(pcm_clean, out, 2880);
    bool lose = packets > 10 && packets % 4 == 0; /* every fourth, once the tones are in */
    if (p->copy_len) {
      copies++;
      primary_bytes += p->len, copy_bytes += p->copy_len;
    }
    if (lose && p->copy_len) {
      g_array_append_val(stood_in, pcm_lossy->len);
      g_assert_cmpint(opus_decode(lossy, p->copy, (opus_int32)p->copy_len, out, 2880, 0), ==, 2880);
    } else {
      g_assert_cmpint(opus_decode(lossy, p->payload, (opus_int32)p->len, out, 2880, 0), ==, 2880);
    }
    g_array_append_vals(pcm_lossy, out, 2880);
  }
  g_test_message("%d packets, %d with a copy: %zu bytes of copies against %zu of primaries; %u frames stood in", packets,
                 copies, copy_bytes, primary_bytes, stood_in->len);
  /* a copy goes only where it is smaller than its primary: steady tones cost the primary's
   * VBR little (on speech the copies were half the primaries' bytes) */
  g_assert_cmpint(copies, >=, packets / 2);
  g_assert_cmpuint(copy_bytes, <, primary_bytes);
  g_assert_cmpuint(stood_in->len, >=, 8);
  double short_by = 0; /* dB the copy's tones fall short of the primary's, summed */
  for (guint k = 0; k < stood_in->len; k++) {
    guint at = g_array_index(stood_in, guint, k) + 480; /* past the switch into the copy */
    for (int i = 0; i < 2; i++) {
      double want = tone_db(pcm_clean, at, 1920, tones[i]), got = tone_db(pcm_lossy, at, 1920, tones[i]);
      g_test_message("the frame at %u: %.0f Hz at %.1f dB from the copy, %.1f from the primary", at, tones[i], got, want);
      g_assert_cmpfloat(got, >, want - 10); /* there, not concealed away */
      short_by += MAX(want - got, 0);
    }
  }
  g_test_message("on average %.1f dB short", short_by / (2 * stood_in->len));
  g_assert_cmpfloat(short_by / (2 * stood_in->len), <, 2); /* a narrowband copy: 4 dB */
  opus_decoder_destroy(clean);
  opus_decoder_destroy(lossy);
  g_array_unref(pcm_clean);
  g_array_unref(pcm_lossy);
  g_array_unref(stood_in);
  for (int i = 0; i < 2; i++)
    opus_encoder_destroy(s[i].enc);
  dc_mixer_free(m);
}

/* Issue 12: a highland talker's link stalls 360 ms (its queue), then delivers the held
 * packets at once. Playout waits and goes on from where it stopped: no frame with voice is
 * thrown away (before: the restart kept only the newest 200 ms, and 300 ms of speech went).
 * The depth that leaves is won back in the next pause: its quiet frames are dropped. */
static void test_burst_after_stall_keeps_speech(void) {
  dc_mixer *m = make_mixer(3);
  sender s;
  sender_init(&s, m, DC_TIER_HIGHLAND, 600, -12, false);
  s.frame = 2880; /* 60 ms packets */
  listener l;
  listener_init(&l, dc_mixer_add(m, DC_TIER_STANDARD));
  uint64_t now = 1000000;
  GPtrArray *held = g_ptr_array_new();
  int t = 0;
  for (; t < 300; t++, now += 20000) { /* 2 s talking, 360 ms held, 2 s talking */
    if (t % 3 == 0) {
      if (t >= 99 && t < 117) {
        sender copy = s; /* what the link holds: sent now, delivered later */
        g_ptr_array_add(held, g_memdup2(&copy, sizeof copy));
        sender_send(&s, m, now, true);
      } else {
        if (t == 117) /* the burst: the held packets, then this one */
          for (guint i = 0; i < held->len; i++) {
            sender *h = g_ptr_array_index(held, i);
            sender_send(h, m, now, false);
          }
        sender_send(&s, m, now, false);
      }
    }
    dc_mixer_tick(m, now);
    listener_take(&l, m);
  }
  g_assert_cmpuint(held->len, ==, 6);
  dc_mixer_stats st = dc_mixer_get_stats(m);
  g_test_message("after the stall: %lu frames dropped, %lu with voice", st.frames_dropped, st.voiced_dropped);
  g_assert_cmpuint(st.voiced_dropped, ==, 0);
  /* a pause: its quiet frames bring the depth back */
  s.amp = 0;
  for (; t < 450; t++, now += 20000) {
    if (t % 3 == 0)
      sender_send(&s, m, now, false);
    dc_mixer_tick(m, now);
    listener_take(&l, m);
  }
  st = dc_mixer_get_stats(m);
  g_test_message("after the pause: %lu frames dropped, %lu with voice", st.frames_dropped, st.voiced_dropped);
  g_assert_cmpuint(st.voiced_dropped, ==, 0);
  g_assert_cmpuint(st.frames_dropped, >=, 3);
  /* and the tone was heard throughout the talking, the stall's stretch included */
  g_assert_cmpfloat(tone_db(l.pcm, 48000 * 3, 48000, 600), >, 55);
  for (guint i = 0; i < held->len; i++)
    g_free(g_ptr_array_index(held, i));
  g_ptr_array_unref(held);
  opus_encoder_destroy(s.enc);
  listener_clear(&l);
  dc_mixer_free(m);
}

/* A point muted with audio queued (a burst its link had held) and unmuted 100 ms later,
 * while that queue would still be due: the mix has none of it from the next tick, nor when
 * the point comes back, only what it says then (start_playout starts from its newest
 * packets). Its voice before is one tone, after another. */
static void test_mute_and_back(void) {
  dc_mixer *m = make_mixer(3);
  sender s;
  sender_init(&s, m, DC_TIER_STANDARD, 700, -12, false);
  listener l;
  listener_init(&l, dc_mixer_add(m, DC_TIER_STANDARD));
  uint64_t now = 1000000;
  int t = 0;
  for (; t < 50; t++, now += 20000) { /* a second of talking */
    sender_send(&s, m, now, false);
    dc_mixer_tick(m, now);
    listener_take(&l, m);
  }
  for (int i = 0; i < 15; i++) /* 300 ms at once: queued, not yet played */
    sender_send(&s, m, now, false);
  guint muted_at = l.pcm->len;
  dc_mixer_set_muted(m, s.slot, true);
  for (; t < 55; t++, now += 20000) { /* 100 ms: the queue would still be due */
    sender_send(&s, m, now, false); /* still sending: ignored */
    dc_mixer_tick(m, now);
    listener_take(&l, m);
    g_assert_false(is_talker(m, s.slot)); /* out of the mix from the next tick */
  }
  s.freq = 1100;
  guint unmuted_at = l.pcm->len;
  dc_mixer_set_muted(m, s.slot, false);
  for (; t < 105; t++, now += 20000) {
    sender_send(&s, m, now, false);
    dc_mixer_tick(m, now);
    listener_take(&l, m);
  }
  double before = tone_db(l.pcm, 24000, 24000, 700);
  double muted = tone_db(l.pcm, muted_at + 960, unmuted_at - muted_at - 960, 700);
  double stale = tone_db(l.pcm, unmuted_at, 19200, 700), fresh = tone_db(l.pcm, unmuted_at + 19200, 28800, 1100);
  g_test_message("700 Hz before %.1f dB, muted %.1f dB, after the unmute %.1f dB; 1100 Hz after %.1f dB",
                 before, muted, stale, fresh);
  g_assert_cmpfloat(before, >, 55);
  g_assert_cmpfloat(muted, <, before - 40);
  g_assert_cmpfloat(stale, <, before - 40); /* nothing from before the mute */
  g_assert_cmpfloat(fresh, >, 55);
  opus_encoder_destroy(s.enc);
  listener_clear(&l);
  dc_mixer_free(m);
}

/* A highland talker who falls quiet gets its tier's shared mix back in the middle of one of
 * its 60 ms frames. That mix was not fed while nobody listened to it; before, the part of the
 * frame from before the switch was whatever the mix held when it was last fed, which can be
 * this talker's own voice from a second ago, and it heard itself (endpoint-highland-link,
 * once in the ASan build). Checked for each offset of the switch in the frame. */
static void test_no_own_voice_after_talking(void) {
  for (int offset = 0; offset < 3; offset++) {
    dc_mixer *m = make_mixer(3);
    sender a, b;
    sender_init(&a, m, DC_TIER_HIGHLAND, 1000, -12, false);
    sender_init(&b, m, DC_TIER_HIGHLAND, 440, -200, false);
    listener la;
    listener_init(&la, a.slot);
    uint64_t now = 1000000;
    int t = 0;
    for (; t < 50; t++, now += 20000) { /* A talks alone: B hears A in the tier's mix */
      sender_send(&a, m, now, false);
      sender_send(&b, m, now, false);
      dc_mixer_tick(m, now);
      listener_take(&la, m);
    }
    b.amp = 32767.0 * pow(10.0, -12 / 20.0);
    for (; t < 100 + offset; t++, now += 20000) { /* both talk: nobody listens to the tier's mix */
      sender_send(&a, m, now, false);
      sender_send(&b, m, now, false);
      dc_mixer_tick(m, now);
      listener_take(&la, m);
    }
    a.amp = 0;
    guint quiet_at = la.pcm->len;
    for (; t < 200; t++, now += 20000) { /* A falls quiet and, 600 ms on, gets the tier's mix */
      sender_send(&a, m, now, false);
      sender_send(&b, m, now, false);
      dc_mixer_tick(m, now);
      listener_take(&la, m);
    }
    g_assert_false(is_talker(m, a.slot));
    /* from 100 ms after A fell quiet (its encoder's and the mixer's delay) to the end */
    guint from = quiet_at + 4800;
    double own = tone_db(la.pcm, from, la.pcm->len - from, 1000);
    double other = tone_db(la.pcm, from, la.pcm->len - from, 440);
    g_test_message("offset %d: A hears its own tone at %.1f dB, B's at %.1f dB", offset, own, other);
    g_assert_cmpfloat(other, >, 55);
    g_assert_cmpfloat(own, <, other - 40);
    opus_encoder_destroy(a.enc);
    opus_encoder_destroy(b.enc);
    listener_clear(&la);
    dc_mixer_free(m);
  }
}

static void test_silence_costs_no_decode(void) {
  dc_mixer_config cfg = {.max_participants = 64, .talkers = 3};
  dc_mixer *m = dc_mixer_new(&cfg, NULL);
  sender s[50];
  for (int i = 0; i < 50; i++)
    sender_init(&s[i], m, (dc_tier)(i % 3), 500, -200, false);
  uint64_t now = 1000000;
  unsigned decodes = 0, encodes = 0, resent = 0;
  for (int t = 0; t < 30; t++, now += 20000) {
    for (int i = 0; i < 50; i++)
      sender_send(&s[i], m, now, false);
    dc_mixer_tick(m, now);
    decodes += dc_mixer_get_stats(m).decodes;
    encodes += dc_mixer_get_stats(m).encodes;
    resent += dc_mixer_get_stats(m).silence_resent;
  }
  g_assert_cmpuint(decodes, ==, 0);
  /* hall and standard encode their silence five frames, then send the last frame again;
   * highland (DTX) encodes every third tick until libopus gives its DTX frame; no copy while
   * nobody takes RED */
  g_test_message("30 silent ticks: %u encodes, %u frames sent again", encodes, resent);
  g_assert_cmpuint(encodes, ==, 5 + 5 + 10);
  g_assert_cmpuint(resent, ==, 25 + 25);
  dc_mixer_want_copies(m, DC_TIER_HIGHLAND, true);
  /* three talk: encodes per tick = tiers in use + talkers, not N */
  for (int i = 0; i < 3; i++)
    s[i].amp = 8000;
  for (int t = 0; t < 10; t++, now += 20000) {
    for (int i = 0; i < 50; i++)
      sender_send(&s[i], m, now, false);
    dc_mixer_tick(m, now);
  }
  unsigned e = 0;
  for (int t = 0; t < 3; t++, now += 20000) {
    for (int i = 0; i < 50; i++)
      sender_send(&s[i], m, now, false);
    dc_mixer_tick(m, now);
    e += dc_mixer_get_stats(m).encodes;
    g_assert_cmpuint(dc_mixer_get_stats(m).decodes, <=, 3 * 2);
  }
  /* per 3 ticks: hall 3 + standard 3 + highland 1 and its copy, talkers on hall/standard
   * 2 x 3, highland 1 and its copy */
  g_assert_cmpuint(e, ==, 3 + 3 + 2 + 3 + 3 + 2);
  for (int i = 0; i < 50; i++)
    opus_encoder_destroy(s[i].enc);
  dc_mixer_free(m);
}

/* One tick: each sender sends its next frame, the mixer ticks, each listener takes its packet. */
static void step(dc_mixer *m, uint64_t now, sender *const *senders, size_t ns, listener *const *listeners, size_t nl) {
  for (size_t i = 0; i < ns; i++)
    sender_send(senders[i], m, now, false);
  dc_mixer_tick(m, now);
  for (size_t i = 0; i < nl; i++)
    listener_take(listeners[i], m);
}

/* A lone talker's own mix is digital silence, as is every mix of a meeting where nobody
 * speaks: sent as the stream's last silent frame again, not encoded (mixer.c, feed). The
 * talker must hear a second voice as soon and as loud as any listener does, from the encoder
 * that settled in silence. */
static void test_silence_sent_again(void) {
  dc_mixer *m = make_mixer(3);
  sender a, b, quiet;
  sender_init(&a, m, DC_TIER_STANDARD, 440, -12, false);
  sender_init(&b, m, DC_TIER_STANDARD, 900, -200, false);
  sender_init(&quiet, m, DC_TIER_STANDARD, 1500, -200, false);
  listener la, lq;
  listener_init(&la, a.slot);
  listener_init(&lq, quiet.slot);
  uint64_t now = 1000000;
  unsigned encodes = 0, resent = 0, same_bytes = 0;
  uint8_t last[DC_MIX_MAX_PACKET];
  size_t last_len = 0;
  sender *const all[] = {&a, &b, &quiet};
  listener *const both[] = {&la, &lq};
  for (int t = 0; t < 50; t++, now += 20000) { /* a talks alone */
    step(m, now, all, 3, both, 2);
    if (t >= 20) {
      encodes += dc_mixer_get_stats(m).encodes;
      resent += dc_mixer_get_stats(m).silence_resent;
      const dc_mixer_packet *own = dc_mixer_packet_for(m, a.slot);
      g_assert_nonnull(own);
      same_bytes += own->len == last_len && !memcmp(own->payload, last, last_len);
      memcpy(last, own->payload, own->len);
      last_len = own->len;
    }
  }
  g_test_message("a alone, 30 ticks: %u encodes, %u frames sent again, %u the same bytes as the tick before",
                 encodes, resent, same_bytes);
  g_assert_cmpuint(encodes, ==, 30);  /* the tier's mix of a */
  g_assert_cmpuint(resent, ==, 30);   /* a's own mix */
  g_assert_cmpuint(same_bytes, ==, 29);
  double heard_silence = tone_db(la.pcm, la.pcm->len - 20 * 960, 20 * 960, 440);
  /* b speaks too: a's own mix is b, encoded again, and a hears b as the quiet listener does */
  b.amp = 32767.0 * pow(10.0, -12 / 20.0);
  guint from_a = la.pcm->len, from_q = lq.pcm->len;
  for (int t = 0; t < 30; t++, now += 20000)
    step(m, now, all, 3, both, 2);
  /* the first 200 ms after the mixer took b (playout and selection: a few ticks), then the rest */
  double a_first = tone_db(la.pcm, from_a + 5 * 960, 10 * 960, 900);
  double q_first = tone_db(lq.pcm, from_q + 5 * 960, 10 * 960, 900);
  double a_rest = tone_db(la.pcm, from_a + 15 * 960, 15 * 960, 900);
  double q_rest = tone_db(lq.pcm, from_q + 15 * 960, 15 * 960, 900);
  double a_own = tone_db(la.pcm, from_a + 15 * 960, 15 * 960, 440);
  g_test_message("a's own mix: 440 Hz at %.1f dB while alone; then b's 900 Hz at %.1f dB in its first 200 ms and "
                 "%.1f after (the quiet listener: %.1f and %.1f); a's own voice %.1f dB",
                 heard_silence, a_first, a_rest, q_first, q_rest, a_own);
  g_assert_cmpfloat(heard_silence, <, 20);
  g_assert_cmpfloat(fabs(a_first - q_first), <, 2.0);
  g_assert_cmpfloat(fabs(a_rest - q_rest), <, 1.0);
  g_assert_cmpfloat(a_rest - a_own, >, 40);
  /* both stop: once the talkers' places lapse (600 ms), nothing is encoded */
  a.amp = b.amp = 0;
  unsigned late_encodes = 0;
  for (int t = 0; t < 60; t++, now += 20000) {
    step(m, now, all, 3, both + 1, 1);
    if (t >= 50)
      late_encodes += dc_mixer_get_stats(m).encodes;
  }
  g_test_message("nobody speaking, the last 10 ticks: %u encodes", late_encodes);
  g_assert_cmpuint(late_encodes, ==, 0);
  g_assert_cmpfloat(tone_db(lq.pcm, lq.pcm->len - 10 * 960, 10 * 960, 900), <, 20);
  listener_clear(&la);
  listener_clear(&lq);
  opus_encoder_destroy(a.enc);
  opus_encoder_destroy(b.enc);
  opus_encoder_destroy(quiet.enc);
  dc_mixer_free(m);
}

/* A highland listener's mix through the bridge's DTX gate (mixer.h, dc_dtx_gate): every frame
 * of speech goes; once the mix is quiet the first DTX frame goes and then one every
 * DC_DTX_REFRESH_US at most (to a listener that reports loss, a second DC_DTX_REPEAT_US after
 * the first); the first frame of speech after starts a talkspurt, and a
 * listener whose decoder makes up the frames held back (as a receiver does with no packet)
 * hears the talker come back as loud as one that got every packet. */
static void test_dtx_frames_held_back(void) {
  dc_mixer *m = make_mixer(3);
  sender a, h;
  sender_init(&a, m, DC_TIER_STANDARD, 440, -12, false);
  sender_init(&h, m, DC_TIER_HIGHLAND, 900, -200, false);
  listener every, gated;
  listener_init(&every, h.slot);
  listener_init(&gated, h.slot);
  dc_dtx_gate gate = {0}, lossy_gate = {0};
  uint64_t lossy_sent_at[16], now = 1000000, last_sent = 0, shortest_dtx_gap = UINT64_MAX;
  unsigned lossy_dtx_sent = 0;
  unsigned speech_held = 0, dtx_sent = 0, dtx_held = 0, talkspurts = 0, first_sent_after_pause = 0;
  bool quiet_seen = false;
  guint back_from = 0;
  sender *const all[] = {&a, &h};
  for (int t = 0; t < 250; t++, now += 20000) {
    if (t == 50)
      a.amp = 0; /* 3 s of nothing, then a speaks again */
    if (t == 200) {
      a.amp = 32767.0 * pow(10.0, -12 / 20.0);
      back_from = every.pcm->len;
    }
    step(m, now, all, 2, NULL, 0);
    const dc_mixer_packet *p = dc_mixer_packet_for(m, h.slot);
    if (!p)
      continue;
    listener_take(&every, m);
    bool dtx = p->len <= DC_DTX_FRAME_MAX, talkspurt = false, lossy_talkspurt = false;
    if (dc_dtx_gate_pass(&lossy_gate, p->len, true, now, &lossy_talkspurt) && dtx) {
      g_assert_cmpuint(lossy_dtx_sent, <, G_N_ELEMENTS(lossy_sent_at));
      lossy_sent_at[lossy_dtx_sent++] = now;
    }
    if (dc_dtx_gate_pass(&gate, p->len, false, now, &talkspurt)) {
      if (dtx && quiet_seen)
        shortest_dtx_gap = MIN(shortest_dtx_gap, now - last_sent);
      if (dtx)
        dtx_sent++, quiet_seen = true;
      if (talkspurt)
        talkspurts++, first_sent_after_pause = (unsigned)t;
      last_sent = now;
      listener_take(&gated, m);
    } else {
      speech_held += !dtx;
      dtx_held++;
      int16_t made_up[2880];
      int n = opus_decode(gated.dec, NULL, 0, made_up, (int)p->samples, 0);
      g_assert_cmpint(n, ==, (int)p->samples);
      g_array_append_vals(gated.pcm, made_up, (guint)n);
    }
  }
  double every_db = tone_db(every.pcm, back_from + 5 * 960, 30 * 960, 440);
  double gated_db = tone_db(gated.pcm, back_from + 5 * 960, 30 * 960, 440);
  g_test_message("3 s quiet: %u DTX frames sent, %u held back, shortest gap between two sent %.0f ms; "
                 "%u talkspurt(s), at tick %u; after it 440 Hz at %.1f dB gated, %.1f with every packet",
                 dtx_sent, dtx_held, (double)shortest_dtx_gap / 1000, talkspurts, first_sent_after_pause, gated_db,
                 every_db);
  g_assert_cmpuint(speech_held, ==, 0);
  g_assert_cmpuint(dtx_held, >, 30);              /* of ~50 frames of 60 ms in 3 s */
  g_assert_cmpuint(dtx_sent, <=, 3000 / 400 + 2); /* the first, then one each 400 ms */
  g_assert_cmpuint(shortest_dtx_gap, >=, DC_DTX_REFRESH_US);
  g_assert_cmpuint(talkspurts, ==, 1);
  g_assert_cmpuint(first_sent_after_pause, >=, 200);
  /* to a listener that reports loss, one more: the second DTX frame DC_DTX_REPEAT_US after
   * the first (the next 60 ms frame at or after it), then one each DC_DTX_REFRESH_US */
  GString *gaps = g_string_new(NULL);
  for (unsigned i = 1; i < lossy_dtx_sent; i++)
    g_string_append_printf(gaps, " %.0f", (double)(lossy_sent_at[i] - lossy_sent_at[i - 1]) / 1000);
  g_test_message("to a listener that reports loss: %u DTX frames sent, gaps (ms):%s", lossy_dtx_sent, gaps->str);
  g_assert_cmpuint(lossy_dtx_sent, ==, dtx_sent + 1);
  g_assert_cmpuint(lossy_sent_at[1] - lossy_sent_at[0], >=, DC_DTX_REPEAT_US);
  g_assert_cmpuint(lossy_sent_at[1] - lossy_sent_at[0], <, DC_DTX_REPEAT_US + 60000);
  for (unsigned i = 2; i < lossy_dtx_sent; i++)
    g_assert_cmpuint(lossy_sent_at[i] - lossy_sent_at[i - 1], >=, DC_DTX_REFRESH_US);
  g_string_free(gaps, TRUE);
  g_assert_cmpuint(gated.pcm->len, ==, every.pcm->len);
  g_assert_cmpfloat(fabs(gated_db - every_db), <, 1.0);
  listener_clear(&every);
  listener_clear(&gated);
  opus_encoder_destroy(a.enc);
  opus_encoder_destroy(h.enc);
  dc_mixer_free(m);
}

/* Reduced effort, the mix clock's choice when mixing takes too much of its time: every tier
 * at complexity 5, each encoder going on from its state, so listeners hear the talker as
 * before, frame after frame, across each change. */
static void test_reduced_effort(void) {
  dc_mixer *m = make_mixer(3);
  g_assert_cmpint(dc_mixer_complexity(m, DC_TIER_HALL), ==, 7);
  g_assert_cmpint(dc_mixer_complexity(m, DC_TIER_STANDARD), ==, 7);
  g_assert_cmpint(dc_mixer_complexity(m, DC_TIER_HIGHLAND), ==, 9);
  g_assert_cmpint(dc_mixer_complexity(m, (dc_tier)DC_TIER_COUNT), ==, -1);
  sender a, q, h;
  sender_init(&a, m, DC_TIER_STANDARD, 440, -12, false);
  sender_init(&q, m, DC_TIER_STANDARD, 1500, -200, false);
  sender_init(&h, m, DC_TIER_HIGHLAND, 1700, -200, false);
  listener lq, lh;
  listener_init(&lq, q.slot);
  listener_init(&lh, h.slot);
  sender *const all[] = {&a, &q, &h};
  listener *const heard[] = {&lq, &lh};
  uint64_t now = 1000000;
  for (int t = 0; t < 150; t++, now += 20000) {
    if (t == 50)
      dc_mixer_set_reduced_effort(m, true);
    if (t == 100)
      dc_mixer_set_reduced_effort(m, false);
    if (t == 60) {
      g_assert_cmpint(dc_mixer_complexity(m, DC_TIER_HALL), ==, 5);
      g_assert_cmpint(dc_mixer_complexity(m, DC_TIER_STANDARD), ==, 5);
      g_assert_cmpint(dc_mixer_complexity(m, DC_TIER_HIGHLAND), ==, 7);
    }
    step(m, now, all, 3, heard, 2);
  }
  g_assert_cmpint(dc_mixer_complexity(m, DC_TIER_STANDARD), ==, 7);
  g_assert_cmpint(dc_mixer_complexity(m, DC_TIER_HIGHLAND), ==, 9);
  /* each 20 ms frame of the standard listener's from tick 20 on: the tone, none of it broken */
  double lo = 1e9, hi = -1e9;
  for (guint f = 20; f < 145; f++) {
    double db = tone_db(lq.pcm, f * 960, 960, 440);
    lo = MIN(lo, db);
    hi = MAX(hi, db);
  }
  double full = tone_db(lq.pcm, 20 * 960, 30 * 960, 440), reduced = tone_db(lq.pcm, 60 * 960, 30 * 960, 440);
  double hl_full = tone_db(lh.pcm, 20 * 960, 30 * 960, 440), hl_reduced = tone_db(lh.pcm, 60 * 960, 30 * 960, 440);
  double hl_lo = 1e9;
  for (guint f = 7; f < 48; f++) /* the highland listener's 60 ms frames */
    hl_lo = MIN(hl_lo, tone_db(lh.pcm, f * 2880, 2880, 440));
  g_test_message("440 Hz at full effort %.1f dB, reduced %.1f (highland %.1f, %.1f); each frame %.1f-%.1f dB "
                 "(highland: %.1f dB or more)", full, reduced, hl_full, hl_reduced, lo, hi, hl_lo);
  g_assert_cmpfloat(fabs(full - reduced), <, 1.0);
  g_assert_cmpfloat(fabs(hl_full - hl_reduced), <, 1.0);
  g_assert_cmpfloat(hi - lo, <, 3.0);
  double hl_frame = tone_db(lh.pcm, 10 * 2880, 2880, 440); /* one 60 ms frame at full effort */
  g_assert_cmpfloat(hl_lo, >, hl_frame - 3);
  listener_clear(&lq);
  listener_clear(&lh);
  opus_encoder_destroy(a.enc);
  opus_encoder_destroy(q.enc);
  opus_encoder_destroy(h.enc);
  dc_mixer_free(m);
}

/* The highland copies cost an encode each, so they are made only while a listener of the
 * tier takes RED: the tier's mix and a highland talker's own mix alike, off and on again
 * (a copy encoder left idle starts afresh, and its copies decode to the tones). */
static void test_copies_only_when_wanted(void) {
  dc_mixer *m = make_mixer(3);
  sender talker, other;
  sender_init(&talker, m, DC_TIER_HIGHLAND, 440, -15, false);
  sender_init(&other, m, DC_TIER_STANDARD, 900, -15, false);
  int hearer = dc_mixer_add(m, DC_TIER_HIGHLAND);
  int err;
  OpusDecoder *dec = opus_decoder_create(48000, 1, &err);
  uint64_t now = 1000000;
  const bool phases[] = {false, true, false, true};
  for (int ph = 0; ph < 4; ph++) {
    dc_mixer_want_copies(m, DC_TIER_HIGHLAND, phases[ph]);
    unsigned mixes = 0, with_copy = 0, own = 0, own_with_copy = 0, decoded_loud = 0;
    for (int t = 0; t < 30; t++, now += 20000) {
      sender_send(&talker, m, now, false);
      sender_send(&other, m, now, false);
      dc_mixer_tick(m, now);
      const dc_mixer_packet *p = dc_mixer_packet_for(m, hearer), *q = dc_mixer_packet_for(m, talker.slot);
      if (p)
        mixes++, with_copy += p->copy_len > 0;
      if (q)
        own++, own_with_copy += q->copy_len > 0;
      if (p && p->copy_len && t >= 12) { /* once both tones are in */
        int16_t out[2880];
        opus_decoder_ctl(dec, OPUS_RESET_STATE);
        g_assert_cmpint(opus_decode(dec, p->copy, (opus_int32)p->copy_len, out, 2880, 0), ==, 2880);
        double e = 0;
        for (int i = 0; i < 2880; i++)
          e += (double)out[i] * out[i];
        decoded_loud += sqrt(e / 2880) > 1000;
      }
    }
    g_test_message("copies %s: %u of %u tier mixes with a copy, %u of %u of the talker's own; %u copies loud",
                   phases[ph] ? "wanted" : "not wanted", with_copy, mixes, own_with_copy, own, decoded_loud);
    g_assert_cmpuint(mixes, ==, 10);
    g_assert_cmpuint(own, ==, 10);
    if (phases[ph]) {
      /* a copy goes only where it came out smaller than its primary (steady tones cost a
       * primary little, and a copy encoder just started spends more): as /mixer/highland-copy-stands-in */
      g_assert_cmpuint(with_copy, >=, mixes / 2);
      g_assert_cmpuint(own_with_copy, >=, own / 2);
      g_assert_cmpuint(decoded_loud, >=, 3);
    } else {
      g_assert_cmpuint(with_copy, ==, 0);
      g_assert_cmpuint(own_with_copy, ==, 0);
    }
  }
  opus_decoder_destroy(dec);
  opus_encoder_destroy(talker.enc);
  opus_encoder_destroy(other.enc);
  dc_mixer_free(m);
}

/* Senders of 10, 40 and 60 ms frames, and one whose packets carry no level at all (it must
 * be decoded and measured to be heard), are all mixed. */
static void test_frame_sizes_and_no_level(void) {
  dc_mixer *m = make_mixer(4);
  const int frames[] = {480, 1920, 2880, 960};
  const double tones[] = {350, 650, 950, 1250};
  sender s[4];
  for (int i = 0; i < 4; i++) {
    sender_init(&s[i], m, DC_TIER_STANDARD, tones[i], -12, false);
    s[i].frame = frames[i];
  }
  s[3].no_level = true;
  listener l;
  listener_init(&l, dc_mixer_add(m, DC_TIER_HALL));
  int64_t due[4] = {0};
  uint64_t now = 1000000;
  for (int t = 0; t < 150; t++, now += 20000) {
    /* each sender sends whenever its next frame is due */
    for (int i = 0; i < 4; i++) {
      while (due[i] <= (int64_t)t * 960) {
        sender_send(&s[i], m, now, false);
        due[i] += s[i].frame;
      }
    }
    dc_mixer_tick(m, now);
    listener_take(&l, m);
  }
  for (int i = 0; i < 4; i++) {
    double db = tone_db(l.pcm, 48000, 96000, tones[i]);
    g_test_message("%d-sample frames%s: %.1f dB", frames[i], s[i].no_level ? " (no level)" : "", db);
    g_assert_cmpfloat(db, >, 60);
  }
  for (int i = 0; i < 4; i++)
    opus_encoder_destroy(s[i].enc);
  listener_clear(&l);
  dc_mixer_free(m);
}


/* Issue 9, defect 3: two steady talkers of equal level, with and without the RFC 6464
 * extension (webrtcbin sends none by default). In 20 s the dominant speaker may change at
 * most once after the first second, and each talker hears the other in every second of it.
 * Without the extension talkers used to lose their place every 600 ms and take it back, so
 * the dominant speaker flipped about every half second. */
static void steady_pair(bool no_level) {
  dc_mixer *m = make_mixer(3);
  sender s[2];
  const double tones[] = {500, 900};
  listener l[2];
  for (int i = 0; i < 2; i++) {
    sender_init(&s[i], m, DC_TIER_STANDARD, tones[i], -15, false);
    s[i].no_level = no_level;
    listener_init(&l[i], s[i].slot);
  }
  uint64_t now = 1000000;
  int changes = 0, dominant = -2;
  for (int t = 0; t < 1000; t++, now += 20000) { /* 20 s */
    for (int i = 0; i < 2; i++)
      sender_send(&s[i], m, now, false);
    dc_mixer_tick(m, now);
    for (int i = 0; i < 2; i++)
      listener_take(&l[i], m);
    int d = dc_mixer_dominant(m);
    if (t >= 50 && d != dominant)
      changes++;
    dominant = d;
  }
  g_test_message("%s level extension: %d dominant-speaker changes after the first second",
                 no_level ? "without" : "with", changes);
  g_assert_cmpint(changes, <=, 1);
  for (int i = 0; i < 2; i++) {
    double weakest = 1e9;
    for (guint sec = 1; sec < 20; sec++) /* every second but the first */
      weakest = MIN(weakest, tone_db(l[i].pcm, sec * 48000, 48000, tones[1 - i]));
    g_test_message("talker %d hears the other at %.1f dB or more in every second", i, weakest);
    g_assert_cmpfloat(weakest, >, 60);
  }
  for (int i = 0; i < 2; i++) {
    opus_encoder_destroy(s[i].enc);
    listener_clear(&l[i]);
  }
  dc_mixer_free(m);
}

static void test_steady_talkers_without_level(void) { steady_pair(true); }

/* Three steady talkers of equal level without the level extension, as in the daemon's
 * shutdown test, and now and then the dominant one's packets come 80-160 ms late, in a
 * bunch (a busy machine or a jittery link). After three ticks of concealment its playout
 * stops until they come, which is not the talker falling quiet: the floor stays. It went to
 * another talker at such a wait (the stopped playout measured as silence), and the daemon's
 * shutdown test once saw two changes in 1.5 s under ASan. */
static void test_late_packets_keep_the_floor(void) {
  dc_mixer *m = make_mixer(3);
  sender s[3];
  const double tones[] = {450, 600, 750};
  for (int i = 0; i < 3; i++) {
    sender_init(&s[i], m, DC_TIER_STANDARD, tones[i], -12, false);
    s[i].no_level = true;
  }
  listener l;
  listener_init(&l, dc_mixer_add(m, DC_TIER_STANDARD));
  uint64_t now = 1000000;
  int changes = 0, dominant = -2, held[3] = {0}, sent[3] = {0}, waits = 0;
  for (int t = 0; t < 500; t++, now += 20000) { /* 10 s */
    int d = dc_mixer_dominant(m);
    for (int i = 0; i < 3; i++) {
      /* every 0.7 s the dominant talker's packets wait 4-8 ticks, then come together */
      if (t >= 50 && s[i].slot == d && t % 35 == 0 && !held[i])
        held[i] = 4 + t % 5, waits++;
      if (held[i]) {
        held[i]--;
        continue;
      }
      while (sent[i] <= t)
        sender_send(&s[i], m, now, false), sent[i]++;
    }
    dc_mixer_tick(m, now);
    listener_take(&l, m);
    d = dc_mixer_dominant(m);
    if (t >= 50 && d != dominant)
      changes++;
    dominant = d;
  }
  g_test_message("%d waits of the dominant talker's packets; %d dominant-speaker changes after the first second",
                 waits, changes);
  g_assert_cmpint(waits, >=, 10);
  g_assert_cmpint(changes, <=, 1);
  for (int i = 0; i < 3; i++)
    opus_encoder_destroy(s[i].enc);
  listener_clear(&l);
  dc_mixer_free(m);
}

static void test_steady_talkers_with_level(void) { steady_pair(false); }

/* A meeting of many points whose packets carry no level (native endpoints, webrtcbin): the
 * mixer decodes such a point to measure it, with a pool of K + 8 decoders. Fourteen rooms'
 * noise without a level (at -60 dBFS: sent as whole frames, as a room that has heard a voice
 * sends quieter noise) held every decoder, and a fifteenth point that spoke was never
 * measured, nor a page (with its level) that spoke after it taken as a talker: nobody new was
 * heard. The decoders of quiet points go round now; a point whose newest packet is DTX needs
 * none. Each speaker must be heard within a second, and so with rooms in DTX. */
static void many_without_level(bool dtx_rooms) {
  dc_mixer_config cfg = {.max_participants = 32, .talkers = 3};
  dc_mixer *m = dc_mixer_new(&cfg, NULL);
  enum { ROOMS = 14 };
  sender room[ROOMS], point, page;
  for (int i = 0; i < ROOMS; i++) {
    sender_init(&room[i], m, DC_TIER_STANDARD, 300 + 10 * i, dtx_rooms ? -120 : -60, false);
    room[i].no_level = true;
    opus_encoder_ctl(room[i].enc, OPUS_SET_DTX(dtx_rooms));
  }
  sender_init(&point, m, DC_TIER_STANDARD, 700, -12, false);
  point.no_level = true;
  sender_init(&page, m, DC_TIER_STANDARD, 1100, -12, false);
  listener l;
  listener_init(&l, dc_mixer_add(m, DC_TIER_STANDARD));
  uint64_t now = 1000000;
  int point_from = 100, page_from = 250, ticks = 400;
  for (int t = 0; t < ticks; t++, now += 20000) {
    for (int i = 0; i < ROOMS; i++)
      sender_send(&room[i], m, now, false);
    if (t >= point_from)
      sender_send(&point, m, now, false);
    if (t >= page_from)
      sender_send(&page, m, now, false);
    dc_mixer_tick(m, now);
    listener_take(&l, m);
  }
  /* heard within a second of starting, and to the end */
  double point_db = tone_db(l.pcm, (guint)(point_from + 50) * 960, 100 * 960, 700);
  double page_db = tone_db(l.pcm, (guint)(page_from + 50) * 960, 100 * 960, 1100);
  int heard_after = -1; /* ms from its first packet to the first 100 ms of the mix with it */
  for (int w = 0; w < 50 && heard_after < 0; w++)
    if (tone_db(l.pcm, (guint)point_from * 960 + (guint)w * 4800, 4800, 700) > 55)
      heard_after = w * 100;
  g_test_message("rooms %s: the point without a level heard at %.1f dB (from %d ms after it began), the page "
                 "after it at %.1f dB", dtx_rooms ? "in DTX" : "at -60 dBFS", point_db, heard_after, page_db);
  g_assert_cmpint(heard_after, >=, 0);
  g_assert_cmpint(heard_after, <=, 1000);
  g_assert_cmpfloat(point_db, >, 55);
  g_assert_cmpfloat(page_db, >, 55);
  for (int i = 0; i < ROOMS; i++)
    opus_encoder_destroy(room[i].enc);
  opus_encoder_destroy(point.enc);
  opus_encoder_destroy(page.enc);
  listener_clear(&l);
  dc_mixer_free(m);
}

static void test_many_without_level_quiet_rooms(void) { many_without_level(false); }
static void test_many_without_level_dtx_rooms(void) { many_without_level(true); }

/* A sender whose timestamps jump back (it restarted its stream) must be heard again at
 * once. Every packet after the jump used to be "too late" for good: a silent talker. */
static void test_timestamps_jump_back(void) {
  dc_mixer *m = make_mixer(3);
  sender s;
  sender_init(&s, m, DC_TIER_STANDARD, 600, -15, false);
  s.no_level = true;
  listener l;
  listener_init(&l, dc_mixer_add(m, DC_TIER_HALL));
  uint64_t now = 1000000;
  for (int t = 0; t < 100; t++, now += 20000) {
    if (t == 50)
      s.ts -= 10u * 48000; /* ten seconds back */
    sender_send(&s, m, now, false);
    dc_mixer_tick(m, now);
    listener_take(&l, m);
  }
  double before = tone_db(l.pcm, 20 * 960, 25 * 960, 600), after = tone_db(l.pcm, 60 * 960, 38 * 960, 600);
  g_test_message("tone before the jump %.1f dB, after it %.1f dB", before, after);
  g_assert_cmpfloat(before, >, 60);
  g_assert_cmpfloat(after, >, 60);
  opus_encoder_destroy(s.enc);
  listener_clear(&l);
  dc_mixer_free(m);
}

/* A sender whose timestamps move off their 20 ms grid (GStreamer's payloader after a gap
 * re-stamps from the running time: 648 samples in a failing webrtcbin run) must stay heard.
 * Playout kept its old grid, found no packet at any playout time, concealed forever, and the
 * other peer heard noise for seconds (issue 9). Both directions: forward and back. */
static void test_timestamps_off_grid(void) {
  const int shifts[] = {648, -312};
  for (size_t i = 0; i < G_N_ELEMENTS(shifts); i++) {
    dc_mixer *m = make_mixer(3);
    sender s;
    sender_init(&s, m, DC_TIER_STANDARD, 600, -15, false);
    s.no_level = true;
    listener l;
    listener_init(&l, dc_mixer_add(m, DC_TIER_HALL));
    uint64_t now = 1000000;
    for (int t = 0; t < 150; t++, now += 20000) {
      if (t == 50)
        s.ts += (uint32_t)shifts[i];
      sender_send(&s, m, now, false);
      dc_mixer_tick(m, now);
      listener_take(&l, m);
    }
    double before = tone_db(l.pcm, 20 * 960, 25 * 960, 600), after = tone_db(l.pcm, 70 * 960, 75 * 960, 600);
    g_test_message("shift %d samples: tone before %.1f dB, after %.1f dB", shifts[i], before, after);
    g_assert_cmpfloat(before, >, 60);
    g_assert_cmpfloat(after, >, before - 6); /* concealment alone measured 41 dB below */
    opus_encoder_destroy(s.enc);
    listener_clear(&l);
    dc_mixer_free(m);
  }
}

/* Where playout starts. A talker whose packets come `ahead_us` before the mix's ticks: quiet
 * (no voice, so not mixed) for a while, then a tone; its playout starts with the tone's first
 * packet. Returns the first frame of the listener's output the tone is in; late_waits: the
 * ticks playout then waited for a packet over two seconds, the packets coming `shift_us`
 * later than before from the 20th tick after the tone began. */
static int tone_onset(int frame, uint64_t ahead_us, uint64_t shift_us, unsigned long *late_waits, double *wait_ms) {
  dc_mixer *m = make_mixer(3);
  sender s;
  sender_init(&s, m, frame == 2880 ? DC_TIER_HIGHLAND : DC_TIER_STANDARD, 600, -80, false);
  s.frame = frame;
  listener l;
  listener_init(&l, dc_mixer_add(m, DC_TIER_HALL));
  const uint64_t start = 1000000, frame_us = (uint64_t)frame * 1000000 / 48000;
  *late_waits = 0;
  unsigned played = 0;
  uint64_t waited_us = 0;
  uint64_t next_packet = start + frame_us - ahead_us;
  for (int t = 0; t < 130; t++) {
    uint64_t tick = start + (uint64_t)t * 20000;
    if (t == 30)
      s.amp = 32767.0 * pow(10.0, -12 / 20.0);
    if (t == 50)
      next_packet += shift_us;
    while (next_packet <= tick) {
      sender_send(&s, m, next_packet, false);
      next_packet += frame_us;
    }
    dc_mixer_tick(m, tick);
    dc_mixer_stats st = dc_mixer_get_stats(m);
    *late_waits += st.late_waits;
    if (t >= 30 && t < 50) { /* before the shift */
      played += st.played;
      waited_us += st.played_wait_us;
    }
    listener_take(&l, m);
  }
  int first = -1;
  for (guint f = 0; f + 960 <= l.pcm->len && first < 0; f += 960)
    if (tone_db(l.pcm, f, 960, 600) > 60)
      first = (int)(f / 960);
  *wait_ms = played ? (double)waited_us / played / 1000 : -1;
  opus_encoder_destroy(s.enc);
  listener_clear(&l);
  dc_mixer_free(m);
  return first;
}

/* Playout starts from the newest packet when it came early enough before the tick to cover
 * the wait for the next one, else a frame further back: a 20 ms talker whose packets come
 * 15 ms before the ticks is heard a tick (20 ms) sooner than one whose packets come 1 ms
 * before them, a 60 ms talker three ticks sooner; neither waits for a late packet. When
 * the packets then come 18 ms later (after the ticks that need them), playout waits once
 * and goes on a tick deeper without waiting again. */
static void test_playout_starts_as_close_as_it_can(void) {
  unsigned long late_early, late_tight, late_shifted;
  double wait_early, wait_tight, wait_shifted;
  int early = tone_onset(960, 15000, 0, &late_early, &wait_early);
  int tight = tone_onset(960, 1000, 0, &late_tight, &wait_tight);
  int shifted = tone_onset(960, 15000, 18000, &late_shifted, &wait_shifted);
  g_test_message("20 ms packets: heard from frame %d (15 ms before the tick), %d (1 ms before); a packet waited "
                 "%.1f, %.1f ms; concealed waiting %lu, %lu ticks; 18 ms later from the 50th tick: waited %lu",
                 early, tight, wait_early, wait_tight, late_early, late_tight, late_shifted);
  g_assert_cmpint(early, >, 0);
  g_assert_cmpint(tight, ==, early + 1);
  g_assert_cmpfloat(fabs(wait_early - 15), <, 0.5); /* the mixer's own account agrees */
  g_assert_cmpfloat(fabs(wait_tight - 21), <, 0.5);
  g_assert_cmpuint(late_early, ==, 0);
  g_assert_cmpuint(late_tight, ==, 0);
  g_assert_cmpint(shifted, ==, early);
  g_assert_cmpuint(late_shifted, ==, 1);
  early = tone_onset(2880, 15000, 0, &late_early, &wait_early);
  tight = tone_onset(2880, 1000, 0, &late_tight, &wait_tight);
  g_test_message("60 ms packets: heard from frame %d (15 ms before the tick), %d (1 ms before); a packet waited "
                 "%.1f, %.1f ms; concealed waiting %lu, %lu ticks",
                 early, tight, wait_early, wait_tight, late_early, late_tight);
  g_assert_cmpint(early, >, 0);
  g_assert_cmpint(tight, ==, early + 3);
  g_assert_cmpfloat(fabs(wait_early - 15), <, 0.5);
  g_assert_cmpfloat(fabs(wait_tight - 61), <, 0.5);
  g_assert_cmpuint(late_early, ==, 0);
  g_assert_cmpuint(late_tight, ==, 0);
}

/* A buffer left deeper than its talker's arrivals need gives the depth back in a pause. A
 * talker speaking in 0.8 s phrases with 0.2 s pauses, its packets 15 ms before the ticks;
 * for 2 s they come 18 ms later (one waited for: playout a tick deeper), then early again,
 * with 35 ms to spare. Once 5-10 s have passed with that much to spare, a quiet frame goes
 * and packets wait 15 ms again; no voiced frame is dropped, none is waited for again. */
static void test_playout_gives_back_depth(void) {
  dc_mixer *m = make_mixer(3);
  sender s;
  sender_init(&s, m, DC_TIER_STANDARD, 600, -12, false);
  listener l;
  listener_init(&l, dc_mixer_add(m, DC_TIER_HALL));
  const uint64_t start = 1000000;
  uint64_t next_packet = start + 20000 - 15000;
  unsigned long late = 0;
  double waited[3] = {0};
  unsigned played[3] = {0};
  for (int t = 0; t < 1300; t++) {
    uint64_t tick = start + (uint64_t)t * 20000;
    if (t == 100)
      next_packet += 18000;
    if (t == 200)
      next_packet -= 18000;
    while (next_packet <= tick) {
      bool pause = (s.seq & 0xffff) % 50 >= 40; /* by packet, so the pause follows the packets */
      s.amp = pause ? 32767.0 * pow(10.0, -80 / 20.0) : 32767.0 * pow(10.0, -12 / 20.0);
      sender_send(&s, m, next_packet, false);
      next_packet += 20000;
    }
    dc_mixer_tick(m, tick);
    dc_mixer_stats st = dc_mixer_get_stats(m);
    late += st.late_waits;
    int phase = t >= 150 && t < 200 ? 0 : t >= 210 && t < 300 ? 1 : t >= 1100 ? 2 : -1;
    if (phase >= 0) {
      waited[phase] += (double)st.played_wait_us;
      played[phase] += st.played;
    }
    listener_take(&l, m);
  }
  for (int i = 0; i < 3; i++)
    waited[i] = played[i] ? waited[i] / played[i] / 1000 : -1;
  dc_mixer_stats st = dc_mixer_get_stats(m);
  g_test_message("a packet waited %.1f ms while late, %.1f ms once early again, %.1f ms 18 s on; %lu waited "
                 "for; %lu frames dropped, %lu of them voiced",
                 waited[0], waited[1], waited[2], late, st.frames_dropped, st.voiced_dropped);
  g_assert_cmpfloat(fabs(waited[1] - 35), <, 1);
  g_assert_cmpfloat(fabs(waited[2] - 15), <, 1);
  g_assert_cmpuint(late, ==, 1);
  g_assert_cmpuint(st.voiced_dropped, ==, 0);
  opus_encoder_destroy(s.enc);
  listener_clear(&l);
  dc_mixer_free(m);
}

/* Packets lost while no later one had come: the ticks concealed waiting stand in for them,
 * and playout goes on at the depth it had (it used to conceal the frames again once the
 * next packet came and stay as many ticks deeper: each loss 20 ms more in the bridge); so
 * too when a sender's timestamps leap ahead of its packets. With the next packet carrying
 * the frame's FEC it is still played (fec-recovers-a-loss). */
static void test_loss_leaves_no_depth(void) {
  dc_mixer *m = make_mixer(3);
  sender s;
  sender_init(&s, m, DC_TIER_STANDARD, 600, -12, false);
  listener l;
  listener_init(&l, dc_mixer_add(m, DC_TIER_HALL));
  uint64_t next_packet = 1000000 + 20000 - 15000;
  unsigned long late = 0;
  double waited[2] = {0};
  unsigned played[2] = {0};
  for (int t = 0; t < 150; t++) {
    uint64_t tick = 1000000 + (uint64_t)t * 20000;
    while (next_packet <= tick) {
      if (t == 120) /* its timestamps leap 60 ms ahead of its packets (a pause's end) */
        s.ts += 3 * 960;
      sender_send(&s, m, next_packet, t == 50 || (t >= 90 && t < 93));
      next_packet += 20000;
    }
    dc_mixer_tick(m, tick);
    dc_mixer_stats st = dc_mixer_get_stats(m);
    late += st.late_waits;
    int phase = t >= 20 && t < 50 ? 0 : t >= 100 ? 1 : -1;
    if (phase >= 0) {
      waited[phase] += (double)st.played_wait_us;
      played[phase] += st.played;
    }
    listener_take(&l, m);
  }
  for (int i = 0; i < 2; i++)
    waited[i] = played[i] ? waited[i] / played[i] / 1000 : -1;
  g_test_message("a packet waited %.1f ms before a loss, a loss of three and a 60 ms leap, %.1f ms after; %lu ticks "
                 "concealed waiting",
                 waited[0], waited[1], late);
  g_assert_cmpfloat(fabs(waited[0] - 15), <, 0.5);
  g_assert_cmpfloat(fabs(waited[1] - 15), <, 0.5);
  g_assert_cmpuint(late, ==, 4);
  g_assert_cmpfloat(tone_db(l.pcm, 48000, 48000 * 2, 600), >, 90);
  opus_encoder_destroy(s.enc);
  listener_clear(&l);
  dc_mixer_free(m);
}

/* The mix clock ticks the mixer with its deadline, and a packet handled after the deadline
 * but before the tick ran is stamped later than the tick: its talker is still talking, and
 * one without a level extension is still decoded and measured. (An unsigned difference
 * read such a talker as silent for ages: the dominant speaker went and came back, and the
 * pages were told so, in the ASan build of browser-video-router.) */
static void test_packets_stamped_after_the_tick(void) {
  for (int no_level = 0; no_level < 2; no_level++) {
    dc_mixer *m = make_mixer(3);
    sender s;
    sender_init(&s, m, DC_TIER_STANDARD, 600, -12, false);
    s.no_level = no_level;
    listener l;
    listener_init(&l, dc_mixer_add(m, DC_TIER_HALL));
    int changes = 0, dominant = -2;
    for (int t = 0; t < 200; t++) {
      uint64_t tick = 1000000 + (uint64_t)t * 20000;
      sender_send(&s, m, tick + 1000, false); /* 1 ms after the deadline */
      dc_mixer_tick(m, tick);
      listener_take(&l, m);
      int d = dc_mixer_dominant(m);
      if (t >= 10 && d != dominant)
        changes++;
      dominant = d;
    }
    double heard = tone_db(l.pcm, 48000, 48000 * 2, 600);
    g_test_message("%s level: dominant speaker %d, %d changes after the first 200 ms; the tone at %.1f dB",
                   no_level ? "without" : "with", dominant, changes, heard);
    g_assert_cmpint(dominant, ==, s.slot);
    g_assert_cmpint(changes, ==, 0);
    g_assert_cmpfloat(heard, >, 90);
    opus_encoder_destroy(s.enc);
    listener_clear(&l);
    dc_mixer_free(m);
  }
}

/* Loss reports 5 s apart, as an audio-only receiver sends them, keep the copies going
 * between them: the hold runs from the last report that showed loss, at the worst loss
 * reported within it. */
static void test_loss_reports_hold_between_reports(void) {
  const uint64_t s = 1000000, hold = 10 * s;
  dc_loss_reports r = {0};
  g_assert_cmpuint(dc_loss_reports_worst(&r, 1 * s, hold), ==, 0);
  dc_loss_reports_add(&r, 0, 100, 0, 1 * s);
  g_assert_cmpuint(dc_loss_reports_worst(&r, 1 * s, hold), ==, 0); /* a clean link */
  dc_loss_reports_add(&r, 41, 117, 3, 2 * s);
  dc_loss_reports_add(&r, 20, 200, 9, 7 * s);
  g_assert_cmpuint(dc_loss_reports_worst(&r, 7 * s, hold), ==, 41);
  /* 10.2 s after the worst and before the next report: still going, at what is left */
  g_assert_cmpuint(dc_loss_reports_worst(&r, 12 * s + 200000, hold), ==, 20);
  dc_loss_reports_add(&r, 0, 300, 9, 13 * s);
  dc_loss_reports_add(&r, 0, 350, 9, 16 * s);
  g_assert_cmpuint(dc_loss_reports_worst(&r, 16 * s, hold), ==, 20);
  g_assert_cmpuint(dc_loss_reports_worst(&r, 17 * s + 1, hold), ==, 0); /* 10 s clean: off */
  for (int k = 0; k < 3 * DC_LOSS_REPORTS; k++) /* a page's report every second */
    dc_loss_reports_add(&r, (uint8_t)(k % 5 ? 0 : 30), (uint32_t)(400 + 17 * k), 9 + k / 5, (uint64_t)(20 + k) * s);
  g_assert_cmpuint(dc_loss_reports_worst(&r, (uint64_t)(20 + 3 * DC_LOSS_REPORTS) * s, hold), ==, 30);
}

/* The native endpoint's report on the mix: a block from each of its streams, the first over
 * the interval, the others over nothing after it. Only the first says anything. */
static void test_loss_reports_skip_empty_blocks(void) {
  const uint64_t s = 1000000, hold = 10 * s;
  dc_loss_reports r = {0};
  g_assert_cmpint(dc_loss_reports_recent(&r), ==, -1);
  g_assert_true(dc_loss_reports_add(&r, 0, 1000, 0, 1 * s));
  g_assert_cmpint(dc_loss_reports_recent(&r), ==, 0);
  g_assert_true(dc_loss_reports_add(&r, 24, 1083, 8, 6 * s));
  g_assert_false(dc_loss_reports_add(&r, 0, 1083, 8, 6 * s)); /* the same packets again */
  g_assert_false(dc_loss_reports_add(&r, 0, 1083, 8, 6 * s));
  g_assert_false(dc_loss_reports_add(&r, 0, 1080, 8, 6 * s)); /* an older report, late */
  g_assert_cmpuint(dc_loss_reports_worst(&r, 6 * s, hold), ==, 24);
  g_assert_cmpuint(r.n, ==, 2);
  g_assert_cmpint(dc_loss_reports_recent(&r), ==, 8 * 256 / 83);
  /* a block over 13 packets, none lost: too few to show; with the next, 83 with 13 lost */
  g_assert_true(dc_loss_reports_add(&r, 0, 1096, 8, 7 * s));
  g_assert_cmpint(dc_loss_reports_recent(&r), ==, 8 * 256 / 83);
  g_assert_true(dc_loss_reports_add(&r, 60, 1166, 21, 11 * s));
  g_assert_cmpint(dc_loss_reports_recent(&r), ==, 13 * 256 / 83);
  /* the count wraps past 2^32 (cycles, RFC 3550 A.1) and goes on */
  r.ext_highest = r.anchor_highest = UINT32_MAX - 10;
  g_assert_true(dc_loss_reports_add(&r, 13, 72, 31, 11 * s));
  g_assert_cmpint(dc_loss_reports_recent(&r), ==, 10 * 256 / 83);
  /* an outage: the receiver got nothing, its block covers nothing, the hold goes on */
  g_assert_false(dc_loss_reports_add(&r, 0, 72, 31, 16 * s));
  g_assert_cmpuint(dc_loss_reports_worst(&r, 16 * s, hold), ==, 60);
  /* a receiver that counts afresh, far behind: taken, at its own figure */
  g_assert_true(dc_loss_reports_add(&r, 5, 72 - DC_LOSS_REPORTS_RESTART - 1, 0, 17 * s));
  g_assert_cmpuint(dc_loss_reports_worst(&r, 17 * s, hold), ==, 60);
  g_assert_cmpint(dc_loss_reports_recent(&r), ==, 5);
}

/* A listener's link as its reports show it: a mix packet every 60 ms, a report every 2.5 to
 * 7.5 s (RFC 3550 §6.3.1, audio only), each packet lost alone at 10 % or in runs of three
 * on average at the same rate (a Gilbert model: a lost packet's next is lost with 2/3).
 * Returns in how many of `links` links the reports said runs after `reports` of them. */
static int links_judged_in_runs(bool in_runs, int reports, int links, guint32 seed) {
  GRand *rng = g_rand_new_with_seed(seed);
  int judged = 0;
  for (int k = 0; k < links; k++) {
    dc_loss_reports r = {0};
    uint32_t highest = 1000;
    int32_t lost = 0;
    uint64_t now = 1000000;
    bool was_lost = false;
    dc_loss_reports_add(&r, 0, highest, lost, now);
    for (int i = 0; i < reports; i++) {
      int packets = (int)(g_rand_double_range(rng, 2.5, 7.5) * 1000 / 60);
      unsigned lost_now = 0;
      for (int n = 0; n < packets; n++) {
        /* runs: from a kept packet, a run starts with 1/30 (10 % lost = 1/30 / (1/30 + 1/3)) */
        double p = !in_runs ? 0.10 : was_lost ? 2.0 / 3.0 : 1.0 / 30.0;
        was_lost = g_rand_double(rng) < p;
        lost_now += was_lost;
      }
      highest += (uint32_t)packets;
      lost += (int32_t)lost_now;
      now += (uint64_t)packets * 60000;
      dc_loss_reports_add(&r, (uint8_t)(lost_now * 256 / (unsigned)packets), highest, lost, now);
    }
    judged += dc_loss_reports_in_runs(&r);
  }
  g_rand_free(rng);
  return judged;
}

/* Whether a listener's link loses in runs, from its reports alone (a listening page's uplink
 * is its held microphone's silence, which says nothing): random loss rarely looks like runs,
 * a radio's runs of three mostly do after six reports and almost always after twelve. */
static void test_loss_reports_tell_runs(void) {
  int random6 = links_judged_in_runs(false, 6, 400, 7), random12 = links_judged_in_runs(false, 12, 400, 8);
  int runs6 = links_judged_in_runs(true, 6, 400, 9), runs12 = links_judged_in_runs(true, 12, 400, 10);
  g_test_message("judged in runs of 400 links: random loss %d after 6 reports, %d after 12; runs of three %d, %d",
                 random6, random12, runs6, runs12);
  g_assert_cmpint(random6, <=, 24); /* 6 % */
  g_assert_cmpint(random12, <=, 8);
  g_assert_cmpint(runs6, >=, 240);
  g_assert_cmpint(runs12, >=, 320);
  /* too few reports, or too little lost, say nothing */
  g_assert_cmpint(links_judged_in_runs(true, DC_LOSS_SPREAD_MIN - 1, 50, 11), ==, 0);
  dc_loss_reports r = {0};
  uint32_t highest = 0;
  for (int i = 0; i <= DC_LOSS_SPREAD_MIN + 2; i++)
    dc_loss_reports_add(&r, 0, highest += 80, i == 3 ? 5 : 0, (uint64_t)(i + 1) * 5000000);
  g_assert_false(dc_loss_reports_in_runs(&r)); /* 5 lost, all in one interval */
  /* runs, then an outage (an interval that lost more than half) and a clean stretch: the
   * outage is no run, and the clean reports keep the judgement where it was */
  memset(&r, 0, sizeof r);
  const int32_t lost_in[] = {0, 9, 0, 0, 12, 0, 6, 0, 10, 0};
  int32_t lost = 0;
  highest = 0;
  for (int i = 0; i < 10; i++)
    dc_loss_reports_add(&r, 0, highest += 80, lost += lost_in[i], (uint64_t)(i + 1) * 5000000);
  g_assert_true(dc_loss_reports_in_runs(&r));
  double before = r.spread_n;
  dc_loss_reports_add(&r, 200, highest += 80, lost += 70, 60000000);
  g_assert_cmpfloat(r.spread_n, ==, before);
  g_assert_true(dc_loss_reports_in_runs(&r));
  /* an outage's report, not taken (the caller knew of it), then lone losses: the outage's 40
   * of 90 fall in no interval (taken, they would have been one) */
  dc_loss_reports follows = r, takes = r;
  dc_loss_reports_follow(&follows, highest + 90, lost + 40);
  dc_loss_reports_add(&takes, 0, highest + 90, lost + 40, 58000000);
  g_assert_cmpfloat(follows.spread_n, ==, before);
  g_assert_cmpfloat(follows.spread_l, ==, r.spread_l);
  dc_loss_reports_add(&follows, 0, highest + 170, lost + 48, 59000000);
  dc_loss_reports_add(&takes, 0, highest + 170, lost + 48, 59000000);
  g_assert_cmpfloat(follows.spread_l, ==, r.spread_l + 8);
  g_assert_cmpfloat(takes.spread_l, ==, r.spread_l + 48);
  /* late packets lower the receiver's count: no negative loss */
  dc_loss_reports_add(&r, 0, highest += 80, lost -= 2, 65000000);
  g_assert_true(dc_loss_reports_in_runs(&r));
  /* a receiver that counts afresh (far behind) starts the judgement again */
  g_assert_true(dc_loss_reports_add(&r, 0, highest - DC_LOSS_REPORTS_RESTART - 1, 0, 70000000));
  g_assert_false(dc_loss_reports_in_runs(&r));
  /* lone losses, each interval near its share: not runs */
  memset(&r, 0, sizeof r);
  lost = 0, highest = 0;
  for (int i = 0; i < 12; i++)
    dc_loss_reports_add(&r, 25, highest += 80, lost += 7 + i % 3, (uint64_t)(i + 1) * 5000000);
  g_assert_false(dc_loss_reports_in_runs(&r));
}

static void test_bad_input(void) {
  dc_mixer *m = make_mixer(3);
  sender good;
  sender_init(&good, m, DC_TIER_STANDARD, 800, -12, false);
  int bad = dc_mixer_add(m, DC_TIER_STANDARD);
  listener l;
  listener_init(&l, dc_mixer_add(m, DC_TIER_STANDARD));
  uint64_t now = 1000000;
  uint8_t junk[300];
  for (int t = 0; t < 100; t++, now += 20000) {
    sender_send(&good, m, now, false);
    /* garbage payloads, absurd sequence and timestamp jumps, a flood of them */
    for (int f = 0; f < 20; f++) {
      for (size_t b = 0; b < sizeof junk; b++)
        junk[b] = (uint8_t)g_random_int();
      dc_rtp_header h = {.payload_type = 111, .seq = (uint16_t)g_random_int(), .timestamp = g_random_int(), .ssrc = 9};
      size_t hl = dc_rtp_write_header(junk, sizeof junk, &h, NULL, 0);
      dc_rtp r;
      if (dc_rtp_parse(&r, junk, hl + 1 + (size_t)(f * 13)) == DC_OK) {
        dc_mixer_push(m, bad, &r, f % 2 ? 0 : -1, now);
        dc_mixer_push(m, 12345, &r, 0, now); /* an unknown slot */
        dc_mixer_push(m, -1, &r, 0, now);
      }
    }
    dc_mixer_tick(m, now);
    listener_take(&l, m);
  }
  g_assert_cmpfloat(tone_db(l.pcm, 48000, 48000, 800), >, 60); /* the meeting's audio flows */
  dc_mixer_remove(m, bad);
  dc_mixer_remove(m, bad); /* twice is harmless */
  dc_mixer_set_muted(m, good.slot, true);
  for (int t = 0; t < 60; t++, now += 20000) {
    sender_send(&good, m, now, false);
    dc_mixer_tick(m, now);
  }
  int slots[8];
  g_assert_cmpuint(dc_mixer_talkers(m, slots, 8), ==, 0); /* muted: not a talker, not decoded */
  g_assert_cmpuint(dc_mixer_get_stats(m).decodes, ==, 0);
  opus_encoder_destroy(good.enc);
  listener_clear(&l);
  dc_mixer_free(m);
  dc_mixer_config bad_cfg = {.max_participants = 4, .talkers = 99};
  GError *err = NULL;
  g_assert_null(dc_mixer_new(&bad_cfg, &err));
  g_assert_error(err, DC_MEDIA_ERROR, DC_MEDIA_ERROR_INVALID);
  g_error_free(err);
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/mixer/hear-talkers-not-yourself", test_everyone_hears_talkers_not_themselves);
  g_test_add_func("/mixer/hysteresis", test_hysteresis);
  g_test_add_func("/mixer/fec-recovers-a-loss", test_fec_recovers_a_loss);
  g_test_add_func("/mixer/highland-60ms", test_highland_60ms);
  g_test_add_func("/mixer/big-room-40ms", test_big_room_40ms);
  g_test_add_func("/mixer/highland-copy-stands-in", test_highland_copy_stands_in);
  g_test_add_func("/mixer/copies-only-when-wanted", test_copies_only_when_wanted);
  g_test_add_func("/mixer/burst-after-stall-keeps-speech", test_burst_after_stall_keeps_speech);
  g_test_add_func("/mixer/silence-costs-no-decode", test_silence_costs_no_decode);
  g_test_add_func("/mixer/silence-sent-again", test_silence_sent_again);
  g_test_add_func("/mixer/dtx-frames-held-back", test_dtx_frames_held_back);
  g_test_add_func("/mixer/reduced-effort", test_reduced_effort);
  g_test_add_func("/mixer/mute-and-back", test_mute_and_back);
  g_test_add_func("/mixer/no-own-voice-after-talking", test_no_own_voice_after_talking);
  g_test_add_func("/mixer/frame-sizes-and-no-level", test_frame_sizes_and_no_level);
  g_test_add_func("/mixer/bad-input", test_bad_input);
  g_test_add_func("/mixer/steady-talkers-without-level", test_steady_talkers_without_level);
  g_test_add_func("/mixer/steady-talkers-with-level", test_steady_talkers_with_level);
  g_test_add_func("/mixer/many-without-level/quiet-rooms", test_many_without_level_quiet_rooms);
  g_test_add_func("/mixer/many-without-level/dtx-rooms", test_many_without_level_dtx_rooms);
  g_test_add_func("/mixer/late-packets-keep-the-floor", test_late_packets_keep_the_floor);
  g_test_add_func("/mixer/timestamps-jump-back", test_timestamps_jump_back);
  g_test_add_func("/mixer/timestamps-off-grid", test_timestamps_off_grid);
  g_test_add_func("/mixer/red-copy-recovers-a-loss", test_red_copy_recovers_a_loss);
  g_test_add_func("/mixer/expected-loss-follows-reports", test_expected_loss_follows_reports);
  g_test_add_func("/mixer/playout-starts-as-close-as-it-can", test_playout_starts_as_close_as_it_can);
  g_test_add_func("/mixer/playout-gives-back-depth", test_playout_gives_back_depth);
  g_test_add_func("/mixer/loss-leaves-no-depth", test_loss_leaves_no_depth);
  g_test_add_func("/mixer/packets-stamped-after-the-tick", test_packets_stamped_after_the_tick);
  g_test_add_func("/mixer/loss-reports-hold-between-reports", test_loss_reports_hold_between_reports);
  g_test_add_func("/mixer/loss-reports-skip-empty-blocks", test_loss_reports_skip_empty_blocks);
  g_test_add_func("/mixer/loss-reports-tell-runs", test_loss_reports_tell_runs);
  return g_test_run();
}
