/* mixer.c — talker selection, N−1 mixing and per-tier encoding, and the loss policies; each
 * participant's jitter buffer is mixer_playout.c's. See mixer.h and mixer_private.h. */
#include "media/mixer_private.h"

#include <math.h>
#include <opus.h>
#include <string.h>


/* reduced: the complexity while the mix clock is short of time (dc_mixer_set_reduced_effort).
 * libopus 1.3.1 on espeak-ng's Vietnamese, this machine: at 32 kbit/s in 20 ms frames
 * complexity 5 costs ~2/3 of 7's CPU for a log-spectral distance to the input 0.22 dB larger
 * (8.92 against 8.70 dB; below 5 nothing more is saved until 1, which costs 5 dB). The
 * highland tier keeps 7 (~3/4 of 9's CPU, 13.92 against 13.89 dB): below 7 libopus runs no
 * signal analysis and its DTX follows SILK's voice detector alone, which took a steady tone
 * for silence (16 dB of it lost in /mixer/reduced-effort at 5). */
static const struct {
  const char *name;
  int bitrate, frame, complexity, reduced, fec_loss, dtx;
} tier_settings[DC_TIER_COUNT] = {
    {"hall", 48000, 960, 7, 5, 0, 0},
    {"standard", 32000, 960, 7, 5, 10, 0},
    {"highland", 14000, 2880, 9, 7, 15, 1},
};

static int complexity_of(const dc_mixer *m, dc_tier t) {
  return m->reduced_effort ? tier_settings[t].reduced : tier_settings[t].complexity;
}

const char *dc_tier_name(dc_tier tier) {
  return (unsigned)tier < DC_TIER_COUNT ? tier_settings[tier].name : "unknown";
}

bool dc_tier_from_name(const char *name, dc_tier *tier) {
  for (int i = 0; i < DC_TIER_COUNT; i++)
    if (name && !strcmp(name, tier_settings[i].name)) {
      *tier = (dc_tier)i;
      return true;
    }
  return false;
}

/* In-band FEC is always allowed; how much the encoder spends on it follows the expected
 * loss (0: none). */
static void configure_encoder(const dc_mixer *m, OpusEncoder *e, dc_tier t, unsigned expected_loss) {
  opus_encoder_ctl(e, OPUS_RESET_STATE);
  opus_encoder_ctl(e, OPUS_SET_BITRATE(tier_settings[t].bitrate));
  opus_encoder_ctl(e, OPUS_SET_COMPLEXITY(complexity_of(m, t)));
  opus_encoder_ctl(e, OPUS_SET_INBAND_FEC(1));
  opus_encoder_ctl(e, OPUS_SET_PACKET_LOSS_PERC((int)expected_loss));
  opus_encoder_ctl(e, OPUS_SET_DTX(tier_settings[t].dtx));
  opus_encoder_ctl(e, OPUS_SET_SIGNAL(OPUS_SIGNAL_VOICE));
}

/* The copy replaces a lost frame once: no in-band FEC of its own, DTX as its tier. It keeps
 * to wideband, as the primary does at 14 kbit/s: a decoder moved from the primary's stream to
 * a copy in another bandwidth starts that frame afresh. On Vietnamese speech (espeak-ng),
 * every fourth 60 ms frame stood in by its copy, the log-spectral distance of those frames to
 * the primaries was 10.2 dB with the copy let pick narrowband at 8 kbit/s, 3.8 dB wideband
 * (6 kbit/s wideband: 6.3), against 16.5 dB concealed. */
static void configure_copy_encoder(const dc_mixer *m, OpusEncoder *e, dc_tier t) {
  opus_encoder_ctl(e, OPUS_RESET_STATE);
  opus_encoder_ctl(e, OPUS_SET_BITRATE(DC_MIX_COPY_BITRATE));
  opus_encoder_ctl(e, OPUS_SET_BANDWIDTH(OPUS_BANDWIDTH_WIDEBAND));
  opus_encoder_ctl(e, OPUS_SET_COMPLEXITY(complexity_of(m, t)));
  opus_encoder_ctl(e, OPUS_SET_DTX(tier_settings[t].dtx));
  opus_encoder_ctl(e, OPUS_SET_SIGNAL(OPUS_SIGNAL_VOICE));
}

static bool tier_has_copies(dc_tier t) { return t == DC_TIER_HIGHLAND; }

/* A talker's own mix on a tier with copies gets them too; its encoder is made the first time
 * (NULL on failure: that mix then goes without, as any other tier's). */
static void ensure_copy_encoder(stream *s, dc_tier t) {
  if (!tier_has_copies(t) || s->copy_enc)
    return;
  int err = OPUS_OK;
  s->copy_enc = opus_encoder_create(DC_MIX_RATE, 1, OPUS_APPLICATION_VOIP, &err);
  if (err != OPUS_OK)
    s->copy_enc = NULL;
}

dc_mixer *dc_mixer_new(const dc_mixer_config *cfg, GError **error) {
  unsigned k = cfg->talkers ? cfg->talkers : 3;
  if (k > DC_MIX_MAX_TALKERS || cfg->max_participants == 0) {
    g_set_error(error, DC_MEDIA_ERROR, DC_MEDIA_ERROR_INVALID,
                "mixer: talkers must be 1-%d and max_participants at least 1", DC_MIX_MAX_TALKERS);
    return NULL;
  }
  dc_mixer *m = g_new0(dc_mixer, 1);
  m->cap = cfg->max_participants;
  m->k = k;
  m->pool_size = k + EXTRA_DECODERS;
  m->parts = g_new0(part, m->cap);
  m->jb_store = g_new0(jb_entry, (gsize)m->cap * JB_SLOTS);
  m->dec = g_new0(OpusDecoder *, m->pool_size);
  m->pcm = g_malloc0(sizeof *m->pcm * m->pool_size);
  m->pcm_n = g_new0(unsigned, m->pool_size);
  m->dec_owner = g_new(int, m->pool_size);
  m->dominant = -1;
  m->big_tier = cfg->big_tier ? cfg->big_tier : DC_MIX_BIG_TIER;
  m->big_tier_back = m->big_tier * 4 / 5;
  int err = OPUS_OK;
  for (unsigned i = 0; i < m->pool_size && err == OPUS_OK; i++) {
    m->dec[i] = opus_decoder_create(DC_MIX_RATE, 1, &err);
    m->dec_owner[i] = -1;
  }
  for (int t = 0; t < DC_TIER_COUNT && err == OPUS_OK; t++) {
    m->tiers[t].enc = opus_encoder_create(DC_MIX_RATE, 1, OPUS_APPLICATION_VOIP, &err);
    if (err == OPUS_OK) {
      m->expected_loss[t] = (unsigned)tier_settings[t].fec_loss;
      configure_encoder(m, m->tiers[t].enc, (dc_tier)t, m->expected_loss[t]);
      m->tiers[t].frame = (unsigned)tier_settings[t].frame;
      m->tiers[t].dtx = tier_settings[t].dtx;
    }
    if (err == OPUS_OK && tier_has_copies((dc_tier)t)) {
      m->tiers[t].copy_enc = opus_encoder_create(DC_MIX_RATE, 1, OPUS_APPLICATION_VOIP, &err);
      if (err == OPUS_OK)
        configure_copy_encoder(m, m->tiers[t].copy_enc, (dc_tier)t);
    }
  }
  for (unsigned i = 0; i < k && err == OPUS_OK; i++) {
    m->talk[i].enc = opus_encoder_create(DC_MIX_RATE, 1, OPUS_APPLICATION_VOIP, &err);
    m->talk_slot[i] = -1;
  }
  if (err != OPUS_OK) {
    g_set_error(error, DC_MEDIA_ERROR, DC_MEDIA_ERROR_FAILED, "mixer: libopus: %s", opus_strerror(err));
    dc_mixer_free(m);
    return NULL;
  }
  return m;
}

void dc_mixer_free(dc_mixer *m) {
  if (!m)
    return;
  for (unsigned i = 0; i < m->pool_size; i++)
    if (m->dec[i])
      opus_decoder_destroy(m->dec[i]);
  for (int t = 0; t < DC_TIER_COUNT; t++)
    if (m->tiers[t].enc)
      opus_encoder_destroy(m->tiers[t].enc);
  for (int t = 0; t < DC_TIER_COUNT; t++)
    if (m->tiers[t].copy_enc)
      opus_encoder_destroy(m->tiers[t].copy_enc);
  for (unsigned i = 0; i < m->k; i++) {
    if (m->talk[i].enc)
      opus_encoder_destroy(m->talk[i].enc);
    if (m->talk[i].copy_enc)
      opus_encoder_destroy(m->talk[i].copy_enc);
  }
  g_free(m->parts);
  g_free(m->jb_store);
  g_free(m->dec);
  g_free(m->pcm);
  g_free(m->pcm_n);
  g_free(m->dec_owner);
  g_free(m);
}

/* ---- membership ---- */

int dc_mixer_add(dc_mixer *m, dc_tier tier) {
  if ((unsigned)tier >= DC_TIER_COUNT)
    return -1;
  for (unsigned i = 0; i < m->cap; i++)
    if (!m->parts[i].active) {
      part *p = &m->parts[i];
      memset(p, 0, sizeof *p);
      p->jb = &m->jb_store[(gsize)i * JB_SLOTS];
      memset(p->jb, 0, JB_SLOTS * sizeof *p->jb);
      p->active = true;
      p->tier = tier;
      p->dec = p->talker = -1;
      m->tier_members[tier]++;
      m->stats.participants++;
      return (int)i;
    }
  return -1;
}

static void release_decoder(dc_mixer *m, part *p) {
  if (p->dec < 0)
    return;
  m->dec_owner[p->dec] = -1;
  p->dec = -1;
  p->playing = false;
}

static bool has_voice(const part *p, uint64_t now, uint64_t within);

/* A decoder from the pool (K + EXTRA_DECODERS). When none is free, one held to measure a
 * point without a level goes: the quietest such point's that is neither talking nor a
 * candidate, and, unless the decoder is for a talker, has held it MEASURE_TURN_US. Before,
 * the first points without a level to send kept theirs for good: with more of them than the
 * pool (a meeting of native endpoints), a later one that spoke was never measured, and no
 * new talker, with a level or without, could be taken. */
static bool take_decoder(dc_mixer *m, part *p, int slot, uint64_t now, bool for_talker) {
  if (p->dec >= 0)
    return true;
  int free = -1;
  for (unsigned i = 0; i < m->pool_size && free < 0; i++)
    if (m->dec_owner[i] < 0)
      free = (int)i;
  if (free < 0) {
    part *victim = NULL;
    for (unsigned i = 0; i < m->pool_size; i++) {
      part *q = &m->parts[m->dec_owner[i]];
      if (q->talker >= 0 || !q->no_level_ext || has_voice(q, now, CANDIDATE_US) ||
          (!for_talker && since(now, q->dec_since_us) < MEASURE_TURN_US))
        continue;
      if (!victim || q->loud < victim->loud)
        victim = q;
    }
    if (!victim)
      return false;
    free = victim->dec;
    release_decoder(m, victim);
  }
  m->dec_owner[free] = slot;
  opus_decoder_ctl(m->dec[free], OPUS_RESET_STATE);
  m->pcm_n[free] = 0;
  p->dec = free;
  p->dec_since_us = now;
  p->playing = false;
  return true;
}

static void drop_talker(dc_mixer *m, part *p) {
  if (p->talker < 0)
    return;
  m->talk_slot[p->talker] = -1;
  p->talker = -1;
  if (!p->no_level_ext)
    release_decoder(m, p);
}

void dc_mixer_remove(dc_mixer *m, int slot) {
  part *p = get(m, slot);
  if (!p)
    return;
  drop_talker(m, p);
  release_decoder(m, p);
  if (m->dominant == slot)
    m->dominant = -1;
  m->tier_members[p->tier]--;
  m->stats.participants--;
  p->active = false;
}

void dc_mixer_set_muted(dc_mixer *m, int slot, bool muted) {
  part *p = get(m, slot);
  if (p)
    p->muted = muted;
}


static uint8_t level_of(const int16_t *pcm, unsigned n) {
  double sum = 0;
  for (unsigned i = 0; i < n; i++)
    sum += (double)pcm[i] * pcm[i];
  double rms = sqrt(sum / n) / 32767.0;
  if (rms < 1e-7)
    return 127;
  double dbov = -20.0 * log10(rms);
  return (uint8_t)CLAMP(dbov, 0.0, 127.0);
}

/* A decoded participant's loudness, as the RFC 6464 level would have said it. */
static void measure(part *p, const int16_t *pcm, uint64_t now_us) {
  uint8_t dbov = level_of(pcm, DC_MIX_TICK);
  p->loud = p->loud * 0.6f + (127.0f - dbov) * 0.4f;
  if (dbov <= VOICE_DBOV)
    p->last_voice_us = now_us;
}

/* ---- talkers ---- */

static bool has_voice(const part *p, uint64_t now, uint64_t within) {
  return !p->muted && p->last_voice_us && since(now, p->last_voice_us) < within;
}

static void select_talkers(dc_mixer *m, uint64_t now) {
  for (unsigned k = 0; k < m->k; k++) {
    part *p = get(m, m->talk_slot[k]);
    if (p && !has_voice(p, now, HOLD_US))
      drop_talker(m, p);
  }
  /* The loudest candidate that is not talking yet; then it joins or replaces. Repeated, at
   * most K times, so a meeting that starts with several voices fills up in one tick. */
  for (unsigned round = 0; round < m->k; round++) {
    int best = -1;
    for (unsigned i = 0; i < m->cap; i++) {
      part *p = &m->parts[i];
      if (p->active && p->talker < 0 && has_voice(p, now, CANDIDATE_US) &&
          (best < 0 || p->loud > m->parts[best].loud))
        best = (int)i;
    }
    if (best < 0)
      return;
    int free_k = -1, quiet_k = -1;
    for (unsigned k = 0; k < m->k; k++) {
      if (m->talk_slot[k] < 0) {
        if (free_k < 0)
          free_k = (int)k;
      } else if (quiet_k < 0 || m->parts[m->talk_slot[k]].loud < m->parts[m->talk_slot[quiet_k]].loud) {
        quiet_k = (int)k;
      }
    }
    int k = free_k;
    if (k < 0) {
      if (m->parts[best].loud < m->parts[m->talk_slot[quiet_k]].loud + TAKEOVER_DB)
        return;
      k = quiet_k;
      drop_talker(m, &m->parts[m->talk_slot[k]]);
    }
    part *p = &m->parts[best];
    if (!take_decoder(m, p, best, now, true))
      return;
    p->talker = k;
    m->talk_slot[k] = best;
    stream *s = &m->talk[k];
    configure_encoder(m, s->enc, p->tier, m->expected_loss[p->tier]);
    ensure_copy_encoder(s, p->tier);
    if (s->copy_enc)
      configure_copy_encoder(m, s->copy_enc, p->tier);
    s->copy_made = false;
    s->frame = m->tiers[p->tier].frame; /* its tier's now: 40 ms in a big room */
    s->dtx = tier_settings[p->tier].dtx;
    s->zero_frames = 0;
    s->silence_ready = false; /* what buf holds is another talker's */
    s->acc_n = m->tiers[p->tier].acc_n; /* in step with its tier's packets, from silence */
    memset(s->acc, 0, sizeof s->acc);
  }
}

static void pick_dominant(dc_mixer *m) {
  part *cur = get(m, m->dominant);
  if (cur && cur->talker < 0)
    cur = NULL, m->dominant = -1;
  for (unsigned k = 0; k < m->k; k++) {
    part *p = get(m, m->talk_slot[k]);
    if (p && (!cur || p->loud > cur->loud + DOMINANT_DB)) {
      cur = p;
      m->dominant = m->talk_slot[k];
    }
  }
}

/* ---- mixing and encoding ---- */

static int16_t limit(int32_t x) {
  float a = (float)(x < 0 ? -x : x);
  if (a <= LIMIT_KNEE)
    return (int16_t)x;
  float room = 32767.0f - LIMIT_KNEE;
  float y = LIMIT_KNEE + room * tanhf((a - LIMIT_KNEE) / room);
  return (int16_t)(x < 0 ? -y : y);
}

static bool all_zero(const int16_t *pcm, unsigned n) {
  int16_t any = 0;
  for (unsigned i = 0; i < n; i++)
    any |= pcm[i];
  return any == 0;
}

/* copy: encode the frame's copy too (a listener of the stream takes them). A copy encoder
 * left idle starts afresh: its state is of audio long gone.
 *
 * Digital silence is sent as the stream's last silent frame again, not encoded: libopus
 * 1.3.1 spends ~155 us on a 20 ms frame of zeros at complexity 7 (~190 on speech; its DTX
 * decides only after analysing, so costs the same), and a lone talker's own mix is nothing
 * but zeros, as is every tier's in a meeting where nobody speaks: most of an ordinary
 * meeting's encodes. It waits SILENCE_SETTLE frames of zeros first, so the frame it repeats
 * is of an encoder settled in silence, and on a DTX tier for the encoder's DTX frame (a
 * TOC byte), so the wire carries no more than libopus would send. When sound comes back
 * the encoder goes on from the state it settled in. Measured on espeak-ng's Vietnamese
 * with its pauses of zeros (64 resumes, the 300 ms after each): the log-spectral distance
 * to the input was 8.58 dB encoding everything and 8.58 with the repeats at 32 kbit/s,
 * 7.79 and 7.79 at 48, 13.54 and 13.54 on the highland tier. */
#define SILENCE_SETTLE 5
static void feed(dc_mixer *m, stream *s, const int16_t *pcm, bool copy) {
  memcpy(s->acc + s->acc_n, pcm, DC_MIX_TICK * sizeof *pcm);
  s->acc_n += DC_MIX_TICK;
  if (s->acc_n < s->frame)
    return;
  s->acc_n = 0;
  bool silent = all_zero(s->acc, s->frame);
  if (silent && s->silence_ready) {
    if (!copy)
      s->out.copy = NULL, s->out.copy_len = 0;
    s->has_out = true;
    m->stats.silence_resent++;
    return;
  }
  s->zero_frames = silent ? s->zero_frames + 1 : 0;
  s->silence_ready = false;
  opus_int32 len = opus_encode(s->enc, s->acc, (int)s->frame, s->buf, sizeof s->buf);
  m->stats.encodes++;
  if (len <= 0)
    return;
  s->out = (dc_mixer_packet){.payload = s->buf, .len = (size_t)len, .samples = s->frame,
                             .level_dbov = level_of(s->acc, s->frame)};
  s->has_out = true;
  bool was_made = s->copy_made;
  s->copy_made = false;
  if (s->copy_enc && copy) {
    if (!was_made)
      opus_encoder_ctl(s->copy_enc, OPUS_RESET_STATE); /* its settings stay */
    s->copy_made = true;
    opus_int32 copy_len = opus_encode(s->copy_enc, s->acc, (int)s->frame, s->copy_buf, sizeof s->copy_buf);
    m->stats.encodes++;
    if (copy_len > 0 && copy_len < len) {
      s->out.copy = s->copy_buf;
      s->out.copy_len = (size_t)copy_len;
    }
  }
  s->silence_ready = silent && s->zero_frames >= SILENCE_SETTLE && (!s->dtx || len <= 2);
}

/* A big room's shared mix goes in 40 ms frames (mixer.h): decided between frames, so that a
 * frame is never cut short; the settled silent frame is of the old length, and goes. */
static void pace_tier(dc_mixer *m, dc_tier t) {
  stream *s = &m->tiers[t];
  if (tier_settings[t].frame != DC_MIX_TICK || s->acc_n)
    return;
  unsigned want = s->frame;
  if (m->tier_members[t] >= m->big_tier)
    want = DC_MIX_BIG_FRAME;
  else if (m->tier_members[t] < m->big_tier_back)
    want = DC_MIX_TICK;
  if (want == s->frame)
    return;
  s->frame = want;
  s->zero_frames = 0;
  s->silence_ready = false;
}

unsigned dc_mixer_tier_frame(const dc_mixer *m, dc_tier tier) {
  return (unsigned)tier < DC_TIER_COUNT ? m->tiers[tier].frame : 0;
}

void dc_mixer_tick(dc_mixer *m, uint64_t now_us) {
  m->tick_us = now_us;
  m->stats.decodes = m->stats.encodes = m->stats.played = m->stats.late_waits = 0;
  m->stats.silence_resent = 0;
  m->stats.concealed = m->stats.fec_played = 0;
  m->stats.played_wait_us = 0;
  for (int t = 0; t < DC_TIER_COUNT; t++)
    m->tiers[t].has_out = false;
  for (unsigned k = 0; k < m->k; k++)
    m->talk[k].has_out = false;

  /* Participants without a level extension are decoded to be measured; talkers among them
   * are measured below, from what they play into the mix. One whose newest packet is DTX is
   * silent without decoding, and one muted or whose packets stopped is not measured: their
   * decoders go back to the pool. The walk starts a slot further each tick, so that when
   * decoders go round no point is always the last to ask. */
  m->measure_from = (m->measure_from + 1) % m->cap;
  for (unsigned n = 0; n < m->cap; n++) {
    unsigned i = (m->measure_from + n) % m->cap;
    part *p = &m->parts[i];
    if (!p->active || !p->no_level_ext || p->talker >= 0)
      continue;
    if (p->muted || p->newest_dtx || since(now_us, p->last_packet_us) >= HOLD_US) {
      release_decoder(m, p);
      p->loud *= 0.6f; /* as measure() fades it over silence */
    } else if (take_decoder(m, p, (int)i, now_us, false)) {
      int16_t pcm[DC_MIX_TICK];
      mixer_play(m, p, pcm);
      measure(p, pcm, now_us);
    }
  }
  select_talkers(m, now_us);
  pick_dominant(m);

  int16_t talker_pcm[DC_MIX_MAX_TALKERS][DC_MIX_TICK];
  memset(m->total, 0, sizeof m->total);
  unsigned listeners[DC_TIER_COUNT];
  memcpy(listeners, m->tier_members, sizeof listeners);
  for (unsigned k = 0; k < m->k; k++) {
    part *p = get(m, m->talk_slot[k]);
    if (!p)
      continue;
    mixer_play(m, p, talker_pcm[k]);
    /* Without this a talker with no level extension was never measured again: it lost its
     * place after HOLD_US, was measured, took it back, and the dominant speaker flapped. */
    if (p->no_level_ext && (p->playing || since(now_us, p->last_packet_us) >= STALL_GRACE_US))
      measure(p, talker_pcm[k], now_us);
    for (int i = 0; i < DC_MIX_TICK; i++)
      m->total[i] += talker_pcm[k][i];
    listeners[p->tier]--;
  }
  for (int i = 0; i < DC_MIX_TICK; i++)
    m->frame[i] = limit(m->total[i]);
  for (int t = 0; t < DC_TIER_COUNT; t++)
    pace_tier(m, (dc_tier)t);
  for (int t = 0; t < DC_TIER_COUNT; t++)
    if (listeners[t] > 0) {
      feed(m, &m->tiers[t], m->frame, m->copies_wanted[t]);
    } else {
      /* Keep the beat with silence: a talker who falls quiet gets this mix back mid-frame,
       * and the frame's start must not be what it held when last fed, which can be that
       * talker's own voice (it heard itself for 40 ms in a highland test). */
      stream *s = &m->tiers[t];
      memset(s->acc + s->acc_n, 0, DC_MIX_TICK * sizeof *s->acc);
      s->acc_n = (s->acc_n + DC_MIX_TICK) % s->frame;
      s->copy_made = false;
      s->zero_frames = 0;
      s->silence_ready = false; /* its encoder missed this frame */
    }
  for (unsigned k = 0; k < m->k; k++) {
    if (m->talk_slot[k] < 0)
      continue;
    int16_t own[DC_MIX_TICK];
    for (int i = 0; i < DC_MIX_TICK; i++)
      own[i] = limit(m->total[i] - talker_pcm[k][i]);
    feed(m, &m->talk[k], own, m->copies_wanted[m->parts[m->talk_slot[k]].tier]);
  }
}

const dc_mixer_packet *dc_mixer_packet_for(const dc_mixer *m, int slot) {
  const part *p = get(m, slot);
  if (!p)
    return NULL;
  const stream *s = p->talker >= 0 ? &m->talk[p->talker] : &m->tiers[p->tier];
  return s->has_out ? &s->out : NULL;
}

size_t dc_mixer_talkers(const dc_mixer *m, int *slots, size_t cap) {
  size_t n = 0;
  for (unsigned k = 0; k < m->k; k++)
    if (m->talk_slot[k] >= 0 && n < cap)
      slots[n++] = m->talk_slot[k];
  for (size_t i = 1; i < n; i++) /* loudest first */
    for (size_t j = i; j > 0 && m->parts[slots[j]].loud > m->parts[slots[j - 1]].loud; j--) {
      int t = slots[j];
      slots[j] = slots[j - 1];
      slots[j - 1] = t;
    }
  return n;
}

int dc_mixer_dominant(const dc_mixer *m) { return m->dominant; }
dc_mixer_stats dc_mixer_get_stats(const dc_mixer *m) { return m->stats; }

#define RED_DEEP_LOSS 20 /* 8 % in 1/256 */

unsigned dc_mixer_red_depth_policy(dc_tier tier, unsigned loss_256, bool loss_in_runs) {
  if (!loss_256)
    return 0;
  return loss_256 >= RED_DEEP_LOSS && (tier != DC_TIER_HIGHLAND || loss_in_runs) ? DC_RED_DEPTH_MAX : 1;
}

unsigned dc_mixer_red_reach_policy(dc_tier tier, unsigned depth, bool loss_in_runs, unsigned wait_ms) {
  if (!depth || (unsigned)tier >= DC_TIER_COUNT)
    return depth;
  unsigned reach = 1;
  if (wait_ms) {
    unsigned frame_ms = (unsigned)tier_settings[tier].frame / 48;
    reach = wait_ms > DC_RED_COPY_MARGIN_MS ? (wait_ms - DC_RED_COPY_MARGIN_MS) / frame_ms : 0;
  } else if (loss_in_runs && tier == DC_TIER_HIGHLAND) {
    reach = 2;
  }
  return CLAMP(reach, depth, DC_RED_REACH_MAX);
}

bool dc_dtx_gate_pass(dc_dtx_gate *g, size_t len, bool lossy, uint64_t now_us, bool *talkspurt) {
  bool dtx = len <= DC_DTX_FRAME_MAX;
  uint64_t wait = lossy && g->quiet_sent == 1 ? DC_DTX_REPEAT_US : DC_DTX_REFRESH_US;
  if (dtx && g->quiet_sent && now_us - g->sent_us < wait) {
    g->held = true;
    return false;
  }
  *talkspurt = !dtx && g->held;
  if (!dtx)
    g->held = false; /* a refresh leaves the pause going on */
  g->quiet_sent = dtx ? (uint8_t)MIN(g->quiet_sent + 1, 2) : 0;
  g->sent_us = now_us;
  return true;
}

static void spread_add(dc_loss_reports *r, bool restart, uint32_t ext_highest, int32_t cumulative_lost) {
  if (restart || !r->spread_anchored) { /* the first report, or a receiver counting afresh */
    r->spread_n = r->spread_e = r->spread_l = r->spread_ll = r->spread_le = r->spread_ee = 0;
  } else {
    double e = (double)(uint32_t)(ext_highest - r->spread_highest);
    double l = MAX(0.0, (double)cumulative_lost - (double)r->spread_lost); /* late packets may lower it */
    if (l * 2 <= e) {
      if (r->spread_n >= DC_LOSS_SPREAD_KEPT) {
        r->spread_n /= 2, r->spread_e /= 2, r->spread_l /= 2;
        r->spread_ll /= 2, r->spread_le /= 2, r->spread_ee /= 2;
      }
      r->spread_n += 1, r->spread_e += e, r->spread_l += l;
      r->spread_ll += l * l, r->spread_le += l * e, r->spread_ee += e * e;
    }
  }
  r->spread_highest = ext_highest, r->spread_lost = cumulative_lost;
  r->spread_anchored = true;
}

void dc_loss_reports_follow(dc_loss_reports *r, uint32_t ext_highest, int32_t cumulative_lost) {
  if (r->spread_anchored)
    r->spread_highest = ext_highest, r->spread_lost = cumulative_lost;
}

bool dc_loss_reports_in_runs(const dc_loss_reports *r) {
  if (r->spread_n < DC_LOSS_SPREAD_MIN || r->spread_l < DC_LOSS_SPREAD_MIN_LOST || r->spread_l >= r->spread_e)
    return false;
  double p = r->spread_l / r->spread_e;
  double deviations = r->spread_ll - 2 * p * r->spread_le + p * p * r->spread_ee; /* sum of (l - p·e)² */
  return deviations >= DC_LOSS_SPREAD_RUNS * p * (1 - p) * r->spread_e;
}

bool dc_loss_reports_add(dc_loss_reports *r, uint8_t fraction_lost, uint32_t ext_highest, int32_t cumulative_lost,
                         uint64_t now_us) {
  int32_t moved = (int32_t)(ext_highest - r->ext_highest);
  if (r->n && moved <= 0 && moved > -DC_LOSS_REPORTS_RESTART)
    return false;
  uint32_t expected = ext_highest - r->anchor_highest;
  if (!r->have_recent || moved <= 0) { /* the first, or a receiver counting afresh: its own figure */
    r->recent = fraction_lost;
    r->have_recent = true;
    r->anchor_highest = ext_highest, r->anchor_lost = cumulative_lost;
  } else if (expected >= DC_LOSS_RECENT_PACKETS) {
    int64_t lost = (int64_t)cumulative_lost - r->anchor_lost;
    r->recent = (uint8_t)(lost <= 0 ? 0 : MIN(lost * 256 / expected, 255));
    r->anchor_highest = ext_highest, r->anchor_lost = cumulative_lost;
  }
  r->ext_highest = ext_highest;
  spread_add(r, moved <= 0, ext_highest, cumulative_lost);
  r->loss[r->next] = fraction_lost;
  r->at_us[r->next] = now_us;
  r->next = (r->next + 1) % DC_LOSS_REPORTS;
  r->n = MIN(r->n + 1, (unsigned)DC_LOSS_REPORTS);
  if (fraction_lost)
    r->lossy_us = MAX(now_us, 1);
  return true;
}

int dc_loss_reports_recent(const dc_loss_reports *r) {
  return r->have_recent ? r->recent : -1;
}

unsigned dc_loss_reports_worst(const dc_loss_reports *r, uint64_t now_us, uint64_t hold_us) {
  if (!r->lossy_us || now_us - r->lossy_us > hold_us)
    return 0;
  unsigned worst = 0;
  for (unsigned i = 0; i < r->n; i++)
    if (now_us - r->at_us[i] <= hold_us)
      worst = MAX(worst, r->loss[i]);
  return worst;
}

unsigned dc_mixer_expected_loss_policy(dc_tier tier, unsigned worst_loss_256) {
  unsigned floor = (unsigned)tier_settings[(unsigned)tier < DC_TIER_COUNT ? tier : DC_TIER_STANDARD].fec_loss / 2;
  unsigned percent = (worst_loss_256 * 100 + 255) / 256;
  percent += percent / 4; /* losses come in bursts: protect a little more than the mean */
  return MIN(MAX(percent, floor), 30u);
}

void dc_mixer_want_copies(dc_mixer *m, dc_tier tier, bool wanted) {
  if ((unsigned)tier < DC_TIER_COUNT)
    m->copies_wanted[tier] = wanted && tier_has_copies(tier); /* other tiers' copies are the frame */
}

void dc_mixer_set_expected_loss(dc_mixer *m, dc_tier tier, unsigned percent) {
  if ((unsigned)tier >= DC_TIER_COUNT || m->expected_loss[tier] == percent)
    return;
  m->expected_loss[tier] = percent;
  opus_encoder_ctl(m->tiers[tier].enc, OPUS_SET_PACKET_LOSS_PERC((int)percent));
  for (unsigned k = 0; k < m->k; k++)
    if (m->talk_slot[k] >= 0 && m->parts[m->talk_slot[k]].tier == tier)
      opus_encoder_ctl(m->talk[k].enc, OPUS_SET_PACKET_LOSS_PERC((int)percent));
}

/* Only the complexity changes: each encoder goes on from its state, so listeners hear no
 * break, only the next frames encoded with less search. */
void dc_mixer_set_reduced_effort(dc_mixer *m, bool reduced) {
  if (m->reduced_effort == reduced)
    return;
  m->reduced_effort = reduced;
  for (int t = 0; t < DC_TIER_COUNT; t++) {
    opus_encoder_ctl(m->tiers[t].enc, OPUS_SET_COMPLEXITY(complexity_of(m, (dc_tier)t)));
    if (m->tiers[t].copy_enc)
      opus_encoder_ctl(m->tiers[t].copy_enc, OPUS_SET_COMPLEXITY(complexity_of(m, (dc_tier)t)));
  }
  for (unsigned k = 0; k < m->k; k++) {
    part *p = get(m, m->talk_slot[k]);
    if (!p)
      continue; /* configured for its talker when taken */
    opus_encoder_ctl(m->talk[k].enc, OPUS_SET_COMPLEXITY(complexity_of(m, p->tier)));
    if (m->talk[k].copy_enc)
      opus_encoder_ctl(m->talk[k].copy_enc, OPUS_SET_COMPLEXITY(complexity_of(m, p->tier)));
  }
}

int dc_mixer_complexity(const dc_mixer *m, dc_tier tier) {
  return (unsigned)tier < DC_TIER_COUNT ? complexity_of(m, tier) : -1;
}
