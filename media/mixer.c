/* mixer.c — jitter buffers, talker selection, N−1 mixing and per-tier encoding; see mixer.h. */
#include "media/mixer.h"

#include <math.h>
#include <opus.h>
#include <string.h>

#define JB_SLOTS 32 /* 640 ms of 20 ms packets, 1.9 s of 60 ms: a stall's burst must fit (a power of two: seq wraps) */
#define JB_MAX_PAYLOAD 400  /* 160 kbit/s at 20 ms; larger packets are dropped */
#define VOICE_DBOV 50       /* a level at or above -50 dBov counts as voice */
#define HOLD_US 600000      /* a talker keeps its place through this much silence */
#define CANDIDATE_US 100000 /* a candidate must have had voice this recently */
#define TAKEOVER_DB 6.0f    /* a newcomer must beat the quietest talker by this much */
#define DOMINANT_DB 3.0f
/* A talker without a level extension whose packets stopped is not measured as silent until
 * this long after its last one: a stall (a busy machine, a jittery link) is not falling
 * quiet. The dominant speaker went to another equal voice at each 80 ms wait; a DTX talker
 * who falls quiet now gives up the floor this much later. */
#define STALL_GRACE_US 200000
#define EXTRA_DECODERS 8    /* for participants whose packets carry no level */
#define LIMIT_KNEE 16384.0f /* -6 dBFS */

typedef struct {
  bool used;
  int8_t level; /* its RFC 6464 level in -dBov, -1 when unknown */
  uint16_t len;
  uint32_t ts;
  uint64_t arrival_us;
  uint8_t data[JB_MAX_PAYLOAD];
} jb_entry;

#define CATCHUP_HARD (DC_MIX_RATE * 2 / 5) /* 400 ms too deep: voice may be dropped too */
#define CATCHUP_SPACING 15              /* ticks: at most one such frame per 300 ms */
#define RESUME_GAP (DC_MIX_RATE / 5)    /* a stall, not a pause, when packets go on within 200 ms */
#define START_MARGIN (DC_MIX_RATE / 200) /* 5 ms beyond twice the jitter: see start_depth */
#define SPARE_MARGIN_US 5000               /* what playout keeps to spare after shrinking */
#define SPARE_BUCKET_US 5000000            /* the least spare is kept over the last 5-10 s */

typedef struct {
  bool active, muted, no_level_ext, playing;
  dc_tier tier;
  int dec;    /* decoder pool slot, -1 when not decoding */
  int talker; /* index in the talker table, -1 when not a talker */
  /* JB_SLOTS entries in the mixer's jb_store: kept out of the part so that the per-tick walk
   * over every participant stays on a few cache lines each (inline, 64 entries doubled the
   * tick's cost at 3000 participants) */
  jb_entry *jb;
  bool have_transit, have_newest;
  int64_t last_transit;
  double jitter; /* samples */
  uint32_t newest_ts, playout_ts, last_frame;
  uint32_t newest_frame;      /* samples in the newest packet */
  uint64_t newest_arrival_us; /* when it came */
  int underruns;
  bool stalled;      /* playout stopped for want of packets; stall_ts: where */
  uint32_t stall_ts;
  unsigned since_drop; /* ticks since a frame was dropped to catch up, quiet ones aside */
  /* The least time a packet played had to spare (from its arrival to the tick that began
   * playing it; 0 for one waited for): in this bucket and the one before (UINT32_MAX: none),
   * the bucket begun at spare_since_us; spare_full once the one before is whole. */
  uint32_t spare_us[2];
  uint64_t spare_since_us;
  bool spare_full;
  float loud; /* smoothed loudness: 127 - dBov, 0 = silence */
  uint64_t last_packet_us, last_voice_us;
} part;

typedef struct {
  OpusEncoder *enc;
  OpusEncoder *copy_enc; /* the highland tier's and its talkers': the redundant copy (mixer.h) */
  bool copy_made;         /* of the last frame: else the copy encoder starts afresh */
  int16_t acc[DC_MIX_MAX_FRAME];
  unsigned acc_n, frame;
  dc_mixer_packet out;
  bool has_out;
  uint8_t buf[DC_MIX_MAX_PACKET];
  uint8_t copy_buf[DC_MIX_MAX_PACKET];
} stream;

struct dc_mixer {
  unsigned cap, k, pool_size;
  part *parts;
  jb_entry *jb_store; /* cap * JB_SLOTS */
  unsigned tier_members[DC_TIER_COUNT];
  bool copies_wanted[DC_TIER_COUNT]; /* dc_mixer_want_copies */
  OpusDecoder **dec;
  int16_t (*pcm)[DC_MIX_MAX_FRAME + DC_MIX_TICK];
  unsigned *pcm_n;
  int *dec_owner;
  stream tiers[DC_TIER_COUNT];
  stream talk[DC_MIX_MAX_TALKERS];
  int talk_slot[DC_MIX_MAX_TALKERS]; /* participant of each talker entry, -1 when free */
  int dominant;
  int32_t total[DC_MIX_TICK];
  int16_t frame[DC_MIX_TICK];
  dc_mixer_stats stats;
  uint64_t tick_us; /* the tick being made, on the mix clock's deadline */
  unsigned expected_loss[DC_TIER_COUNT]; /* percent, what each tier's encoders protect against */
};

static const struct {
  const char *name;
  int bitrate, frame, complexity, fec_loss, dtx;
} tier_settings[DC_TIER_COUNT] = {
    {"hall", 48000, 960, 7, 0, 0},
    {"standard", 32000, 960, 7, 10, 0},
    {"highland", 14000, 2880, 9, 15, 1},
};

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
static void configure_encoder(OpusEncoder *e, dc_tier t, unsigned expected_loss) {
  opus_encoder_ctl(e, OPUS_RESET_STATE);
  opus_encoder_ctl(e, OPUS_SET_BITRATE(tier_settings[t].bitrate));
  opus_encoder_ctl(e, OPUS_SET_COMPLEXITY(tier_settings[t].complexity));
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
static void configure_copy_encoder(OpusEncoder *e, dc_tier t) {
  opus_encoder_ctl(e, OPUS_RESET_STATE);
  opus_encoder_ctl(e, OPUS_SET_BITRATE(DC_MIX_COPY_BITRATE));
  opus_encoder_ctl(e, OPUS_SET_BANDWIDTH(OPUS_BANDWIDTH_WIDEBAND));
  opus_encoder_ctl(e, OPUS_SET_COMPLEXITY(tier_settings[t].complexity));
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
  int err = OPUS_OK;
  for (unsigned i = 0; i < m->pool_size && err == OPUS_OK; i++) {
    m->dec[i] = opus_decoder_create(DC_MIX_RATE, 1, &err);
    m->dec_owner[i] = -1;
  }
  for (int t = 0; t < DC_TIER_COUNT && err == OPUS_OK; t++) {
    m->tiers[t].enc = opus_encoder_create(DC_MIX_RATE, 1, OPUS_APPLICATION_VOIP, &err);
    if (err == OPUS_OK) {
      m->expected_loss[t] = (unsigned)tier_settings[t].fec_loss;
      configure_encoder(m->tiers[t].enc, (dc_tier)t, m->expected_loss[t]);
      m->tiers[t].frame = (unsigned)tier_settings[t].frame;
    }
    if (err == OPUS_OK && tier_has_copies((dc_tier)t)) {
      m->tiers[t].copy_enc = opus_encoder_create(DC_MIX_RATE, 1, OPUS_APPLICATION_VOIP, &err);
      if (err == OPUS_OK)
        configure_copy_encoder(m->tiers[t].copy_enc, (dc_tier)t);
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

static part *get(const dc_mixer *m, int slot) {
  return slot >= 0 && (unsigned)slot < m->cap && m->parts[slot].active ? &m->parts[slot] : NULL;
}

static void release_decoder(dc_mixer *m, part *p) {
  if (p->dec < 0)
    return;
  m->dec_owner[p->dec] = -1;
  p->dec = -1;
  p->playing = false;
}

static bool take_decoder(dc_mixer *m, part *p, int slot) {
  if (p->dec >= 0)
    return true;
  for (unsigned i = 0; i < m->pool_size; i++)
    if (m->dec_owner[i] < 0) {
      m->dec_owner[i] = slot;
      opus_decoder_ctl(m->dec[i], OPUS_RESET_STATE);
      m->pcm_n[i] = 0;
      p->dec = (int)i;
      p->playing = false;
      return true;
    }
  return false;
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

/* ---- input ---- */

static bool ts_after(uint32_t a, uint32_t b) { return (int32_t)(a - b) > 0; }

void dc_mixer_push(dc_mixer *m, int slot, const dc_rtp *pkt, int level_dbov, uint64_t now_us) {
  part *p = get(m, slot);
  if (!p || p->muted || pkt->payload_len == 0 || pkt->payload_len > JB_MAX_PAYLOAD)
    return;
  const uint8_t *payload = dc_rtp_payload(pkt);
  int samples = opus_packet_get_nb_samples(payload, (opus_int32)pkt->payload_len, DC_MIX_RATE);
  if (samples <= 0 || samples > DC_MIX_MAX_FRAME)
    return; /* not Opus we can play */
  /* A timestamp far behind the newest (a sender that restarted its stream's timestamps) is a
   * new timeline: start again from it, as for an absurd jump forward below. Taken as "too
   * late", every later packet was too, and the talker stayed silent for good (two webrtcbin
   * peers: one heard nothing of the other for a whole run, one run in five). */
  if (p->have_newest && ts_after(p->newest_ts, pkt->timestamp) &&
      (uint32_t)(p->newest_ts - pkt->timestamp) > DC_MIX_RATE) {
    for (int i = 0; i < JB_SLOTS; i++)
      p->jb[i].used = false;
    p->playing = p->have_newest = p->have_transit = false;
  }
  if (p->playing && !ts_after(pkt->timestamp + (uint32_t)samples, p->playout_ts))
    return; /* too late: already played out or concealed */
  /* RFC 3550 §6.4.1 interarrival jitter, in samples */
  int64_t arrival = (int64_t)(now_us * DC_MIX_RATE / 1000000);
  int64_t transit = arrival - (int64_t)pkt->timestamp;
  if (p->have_transit) {
    int64_t d = transit - p->last_transit;
    if (d < 0)
      d = -d;
    if (d < DC_MIX_RATE) /* a timestamp jump is not jitter */
      p->jitter += ((double)d - p->jitter) / 16.0;
  }
  p->last_transit = transit;
  p->have_transit = true;
  if (!p->have_newest || ts_after(pkt->timestamp, p->newest_ts)) {
    /* an absurd jump forward restarts playout rather than waiting for it */
    if (p->have_newest && (uint32_t)(pkt->timestamp - p->newest_ts) > 10u * DC_MIX_RATE)
      p->playing = false;
    p->newest_ts = pkt->timestamp;
    p->newest_frame = (uint32_t)samples;
    p->newest_arrival_us = now_us;
    p->have_newest = true;
  }
  jb_entry *e = &p->jb[pkt->seq % JB_SLOTS];
  e->used = true;
  e->level = (int8_t)(level_dbov < 0 ? -1 : MIN(level_dbov, 127));
  e->ts = pkt->timestamp;
  e->arrival_us = now_us;
  e->len = (uint16_t)pkt->payload_len;
  memcpy(e->data, payload, pkt->payload_len);
  p->last_packet_us = now_us;
  if (level_dbov < 0) {
    p->no_level_ext = true;
    return;
  }
  float loud = 127.0f - (float)level_dbov;
  p->loud = p->loud * 0.6f + loud * 0.4f;
  if (level_dbov <= VOICE_DBOV)
    p->last_voice_us = now_us;
}

bool dc_mixer_push_recovered(dc_mixer *m, int slot, uint16_t seq, uint32_t ts, const uint8_t *payload,
                             size_t len, uint64_t now_us) {
  part *p = get(m, slot);
  if (!p || p->muted || !p->have_newest || len == 0 || len > JB_MAX_PAYLOAD)
    return false;
  int samples = opus_packet_get_nb_samples(payload, (opus_int32)len, DC_MIX_RATE);
  if (samples <= 0 || samples > DC_MIX_MAX_FRAME || ts_after(ts, p->newest_ts))
    return false; /* not Opus, or not earlier than what its packet carried */
  if (p->playing && !ts_after(ts + (uint32_t)samples, p->playout_ts))
    return false; /* its time has passed */
  for (int i = 0; i < JB_SLOTS; i++)
    if (p->jb[i].used && p->jb[i].ts == ts)
      return false; /* its own packet came */
  jb_entry *e = &p->jb[seq % JB_SLOTS];
  if (e->used && ts_after(e->ts, ts))
    return false; /* the place holds a later frame, still to play */
  e->used = true;
  e->level = -1;
  e->ts = ts;
  e->arrival_us = now_us; /* what its wait counts from (the slot's last packet came ~32 frames ago) */
  e->len = (uint16_t)len;
  memcpy(e->data, payload, len);
  return true;
}

/* ---- playout ---- */

static jb_entry *find(part *p, uint32_t ts) {
  for (int i = 0; i < JB_SLOTS; i++)
    if (p->jb[i].used && p->jb[i].ts == ts)
      return &p->jb[i];
  return NULL;
}

/* The earliest packet at or after ts, NULL when none. */
static jb_entry *first_from(part *p, uint32_t ts) {
  jb_entry *first = NULL;
  for (int i = 0; i < JB_SLOTS; i++)
    if (p->jb[i].used && !ts_after(ts, p->jb[i].ts) && (!first || ts_after(first->ts, p->jb[i].ts)))
      first = &p->jb[i];
  return first;
}

static unsigned target_depth(const part *p) {
  double frame = p->last_frame ? p->last_frame : DC_MIX_TICK;
  double t = frame + 2.0 * p->jitter;
  return (unsigned)CLAMP(t, 960.0, 9600.0); /* 20 .. 200 ms */
}

static bool voiced(const jb_entry *e) { return e->level >= 0 && e->level <= VOICE_DBOV; }

/* Time from then to now, 0 when then is later: the tick's time is its deadline, and a packet
 * handled after the deadline but before the tick ran is stamped later than it. */
static uint64_t since(uint64_t now, uint64_t then) { return now > then ? now - then : 0; }

static void spare_reset(const dc_mixer *m, part *p) {
  p->spare_us[0] = p->spare_us[1] = UINT32_MAX;
  p->spare_since_us = m->tick_us;
  p->spare_full = false;
}

static void spare_note(part *p, uint64_t us) {
  p->spare_us[0] = (uint32_t)MIN((uint64_t)p->spare_us[0], us);
}

/* Whether a frame of playout could go with every packet of the last 5-10 s still in time
 * for it, SPARE_MARGIN_US to spare. A buffer left deeper than its talker's arrivals need
 * (by a start before the jitter settled, or by a spike long past: each waited-for packet
 * leaves playout a tick deeper) is brought back by dropping a quiet frame, as NetEq's
 * accelerate would; the depth rule in play() alone let up to 60 ms too many stay for good. */
static bool spare_frame(const dc_mixer *m, part *p, uint32_t frame) {
  if (m->tick_us - p->spare_since_us >= SPARE_BUCKET_US) {
    p->spare_us[1] = p->spare_us[0];
    p->spare_us[0] = UINT32_MAX;
    p->spare_since_us = m->tick_us;
    p->spare_full = true;
  }
  uint64_t least = MIN(p->spare_us[0], p->spare_us[1]);
  return p->spare_full && least != UINT32_MAX &&
         least >= (uint64_t)frame * 1000000 / DC_MIX_RATE + SPARE_MARGIN_US;
}

/* A frame left playout: every later packet has that much less to spare. */
static void spare_less(part *p, uint32_t frame) {
  uint32_t us = (uint32_t)((uint64_t)frame * 1000000 / DC_MIX_RATE);
  for (int i = 0; i < 2; i++)
    if (p->spare_us[i] != UINT32_MAX)
      p->spare_us[i] = p->spare_us[i] > us ? p->spare_us[i] - us : 0;
}

/* How far behind a packet that came at arrival_us playout must be to play it, in samples
 * of whole frames; start_depth: where playout starts, behind the newest. The newest came
 * `ahead` before this tick; its successor is due a frame after it, give or take the jitter,
 * and is needed once the newest has played, a frame after this tick: started from the newest,
 * playout has `ahead` to spare, from k frames behind it `ahead` + k frames. So it starts
 * from the newest when that covers twice the jitter and a margin, else as few frames back
 * as do. Always one frame back (the rule before), a talker's voice waited a frame more than
 * it needed half the time: ~15 ms of 20 ms frames, ~45 ms of a highland point's 60 ms. A
 * start too shallow for a later spike costs one concealed tick and plays a tick deeper from
 * then on (play: a late packet is waited for). */
static uint32_t frames_behind(const dc_mixer *m, const part *p, uint64_t arrival_us, uint32_t frame) {
  double need = 2.0 * p->jitter + START_MARGIN;
  double ahead = (double)since(m->tick_us, arrival_us) * DC_MIX_RATE / 1e6; /* 0: came after the deadline */
  if (ahead >= need)
    return 0;
  double frames = ceil((need - ahead) / frame);
  return (uint32_t)MIN(frames * frame, 9600.0); /* 200 ms at most, as target_depth */
}

static uint32_t start_depth(const dc_mixer *m, const part *p) {
  return frames_behind(m, p, p->newest_arrival_us, p->newest_frame ? p->newest_frame : DC_MIX_TICK);
}

/* A frame thrown away unplayed. */
static void drop_entry(dc_mixer *m, jb_entry *e) {
  e->used = false;
  m->stats.frames_dropped++;
  m->stats.voiced_dropped += voiced(e);
}

/* Chooses where playout starts: where it stopped, when packets go on from there (a stall:
 * what arrived late is still speech to play); else about the target depth behind the
 * newest packet. */
static void start_playout(dc_mixer *m, part *p) {
  if (!p->have_newest)
    return;
  if (p->stalled) {
    jb_entry *first = first_from(p, p->stall_ts);
    if (!first)
      return; /* nothing yet: still waiting */
    p->stalled = false;
    if (first->ts - p->stall_ts <= RESUME_GAP) {
      p->playout_ts = first->ts;
      p->playing = true;
      spare_reset(m, p);
      p->underruns = 0;
      return;
    }
  }
  uint32_t want = p->newest_ts - start_depth(m, p);
  bool found = false;
  uint32_t best = 0;
  for (int i = 0; i < JB_SLOTS; i++) {
    const jb_entry *e = &p->jb[i];
    if (e->used && !ts_after(want, e->ts) && (!found || ts_after(best, e->ts))) {
      best = e->ts;
      found = true;
    }
  }
  if (!found)
    return;
  for (int i = 0; i < JB_SLOTS; i++) /* older packets will never play */
    if (p->jb[i].used && ts_after(best, p->jb[i].ts))
      drop_entry(m, &p->jb[i]);
  p->playout_ts = best;
  p->playing = true;
  spare_reset(m, p);
  p->underruns = 0;
}

/* Whether an Opus packet of one frame carries in-band FEC (LBRR) for the frame before: the
 * SILK layer's LBRR flag follows its VAD flags in the first bits of the range coder, which
 * for flags of even odds are the bits themselves (RFC 6716 §4.2.3). Several frames, or a
 * CELT-only one: false. */
static bool carries_fec(const uint8_t *pkt, size_t len) {
  if (len < 2 || (pkt[0] & 3) != 0 || (pkt[0] >> 3) >= 16)
    return false;
  unsigned config = pkt[0] >> 3, ms = config < 12 ? (unsigned[]){10, 20, 40, 60}[config & 3] : 20;
  unsigned silk_frames = ms <= 20 ? 1 : ms / 20;
  return (pkt[1] >> (7 - silk_frames)) & 1;
}

/* Produces the next 20 ms of a decoded participant into out. */
static void play(dc_mixer *m, part *p, int16_t *out) {
  OpusDecoder *dec = m->dec[p->dec];
  int16_t *buf = m->pcm[p->dec];
  unsigned *n = &m->pcm_n[p->dec];
  if (!p->playing)
    start_playout(m, p);
  for (int guard = 0; *n < DC_MIX_TICK && guard < 4; guard++) {
    if (!p->playing) {
      memset(buf + *n, 0, (DC_MIX_TICK - *n) * sizeof *buf);
      *n = DC_MIX_TICK;
      break;
    }
    uint32_t frame = p->last_frame ? p->last_frame : DC_MIX_TICK;
    jb_entry *e = find(p, p->playout_ts), *next = e ? e : first_from(p, p->playout_ts);
    /* The sender's timestamps moved off the frame grid playout follows (GStreamer's payloader
     * re-stamps from the running time after a gap): no packet would ever sit at a playout
     * time again, and the talker would be concealment for good. Follow the packets. */
    if (!e && next && next->ts - p->playout_ts < frame) {
      p->playout_ts = next->ts;
      e = next;
    }
    int got = 0;
    if (e) {
      got = opus_decode(dec, e->data, e->len, buf + *n, DC_MIX_MAX_FRAME, 0);
      e->used = false;
      uint64_t waited = since(m->tick_us, e->arrival_us);
      m->stats.played++;
      m->stats.played_wait_us += waited;
      spare_note(p, waited);
      if (got > 0)
        p->last_frame = (uint32_t)got;
      p->underruns = 0;
    } else if (next) {
      /* Frames missing before `next`: lost, or never sent (DTX). The next packet's in-band
       * FEC carries the one just before it when the sender used it: that frame's own voice
       * is worth its tick. Else the gap is concealed only as far as `next` needs to wait to
       * play as a fresh start would (frames_behind): the rest of its time is skipped. Concealed
       * whole after ticks spent waiting for it (no later packet had come), or when a sender's
       * timestamps leapt a pause faster than its packets came, a gap left playout that much
       * deeper for good: a district voice waited 50-100 ms in the bridge in some lab runs. */
      jb_entry *fec = next->ts == p->playout_ts + frame && carries_fec(next->data, next->len) ? next : NULL;
      p->underruns = 0;
      uint32_t gap = next->ts - p->playout_ts, keep = frames_behind(m, p, next->arrival_us, frame);
      if (!fec && gap > keep) {
        p->playout_ts += gap - keep;
        continue;
      }
      got = fec ? opus_decode(dec, fec->data, fec->len, buf + *n, (int)frame, 1)
                : opus_decode(dec, NULL, 0, buf + *n, (int)frame, 0);
      if (fec)
        m->stats.fec_played++;
      else
        m->stats.concealed++;
    } else if (p->underruns++ < 3) {
      got = opus_decode(dec, NULL, 0, buf + *n, DC_MIX_TICK, 0); /* conceal a late packet */
      m->stats.late_waits++;
      spare_note(p, 0);
      p->playout_ts -= (uint32_t)(got > 0 ? got : 0); /* wait for it: do not skip its time */
    } else {
      /* No packet for a while: the talker went quiet (DTX), or its link stalled. Which one
       * shows when packets come again (start_playout). */
      p->playing = false;
      p->stalled = true;
      p->stall_ts = p->playout_ts;
      continue;
    }
    m->stats.decodes++;
    if (got <= 0) { /* a corrupt packet: skip one frame of silence */
      got = (int)(p->last_frame ? p->last_frame : DC_MIX_TICK);
      memset(buf + *n, 0, (size_t)got * sizeof *buf);
    }
    *n += (unsigned)got;
    p->playout_ts += (uint32_t)got;
  }
  if (*n < DC_MIX_TICK) { /* frames of 2.5 ms (valid Opus, rarely sent) can leave a gap */
    memset(buf + *n, 0, (DC_MIX_TICK - *n) * sizeof *buf);
    *n = DC_MIX_TICK;
  }
  memcpy(out, buf, DC_MIX_TICK * sizeof *out);
  *n -= DC_MIX_TICK;
  memmove(buf, buf + DC_MIX_TICK, *n * sizeof *buf);
  /* Too deep (the sender's clock is fast, or a burst arrived after a stall): drop the next
   * frame when its level says quiet; one with voice only when the buffer runs CATCHUP_HARD
   * too deep, and one without a level at once; those two at most one per CATCHUP_SPACING.
   * The depth is signed: right after the newest packet played, playout is ahead of it. */
  int32_t depth = (int32_t)(p->newest_ts - p->playout_ts);
  int32_t over = depth - (int32_t)(target_depth(p) + 3 * DC_MIX_TICK);
  uint32_t next_frame = p->last_frame ? p->last_frame : DC_MIX_TICK;
  p->since_drop++;
  if (p->playing && (over > 0 || spare_frame(m, p, next_frame))) {
    jb_entry *e = find(p, p->playout_ts);
    bool quiet = e && e->level > VOICE_DBOV;
    /* no level: nothing to wait for */
    bool may = over > 0 && (e && e->level < 0 ? true : over > CATCHUP_HARD);
    if (quiet || (may && p->since_drop >= CATCHUP_SPACING)) {
      if (e)
        drop_entry(m, e);
      if (!quiet)
        p->since_drop = 0;
      p->playout_ts += next_frame;
      spare_less(p, next_frame);
    }
  }
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
    if (!take_decoder(m, p, best))
      return;
    p->talker = k;
    m->talk_slot[k] = best;
    stream *s = &m->talk[k];
    configure_encoder(s->enc, p->tier, m->expected_loss[p->tier]);
    ensure_copy_encoder(s, p->tier);
    if (s->copy_enc)
      configure_copy_encoder(s->copy_enc, p->tier);
    s->copy_made = false;
    s->frame = (unsigned)tier_settings[p->tier].frame;
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

/* copy: encode the frame's copy too (a listener of the stream takes them). A copy encoder
 * left idle starts afresh: its state is of audio long gone. */
static void feed(dc_mixer *m, stream *s, const int16_t *pcm, bool copy) {
  memcpy(s->acc + s->acc_n, pcm, DC_MIX_TICK * sizeof *pcm);
  s->acc_n += DC_MIX_TICK;
  if (s->acc_n < s->frame)
    return;
  s->acc_n = 0;
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
}

void dc_mixer_tick(dc_mixer *m, uint64_t now_us) {
  m->tick_us = now_us;
  m->stats.decodes = m->stats.encodes = m->stats.played = m->stats.late_waits = 0;
  m->stats.concealed = m->stats.fec_played = 0;
  m->stats.played_wait_us = 0;
  for (int t = 0; t < DC_TIER_COUNT; t++)
    m->tiers[t].has_out = false;
  for (unsigned k = 0; k < m->k; k++)
    m->talk[k].has_out = false;

  /* Participants without a level extension are decoded to be measured; talkers among them
   * are measured below, from what they play into the mix. */
  for (unsigned i = 0; i < m->cap; i++) {
    part *p = &m->parts[i];
    if (p->active && p->no_level_ext && !p->muted && since(now_us, p->last_packet_us) < HOLD_US &&
        take_decoder(m, p, (int)i) && p->talker < 0) {
      int16_t pcm[DC_MIX_TICK];
      play(m, p, pcm);
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
    play(m, p, talker_pcm[k]);
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
  if (loss_in_runs && wait_ms) {
    unsigned frame_ms = (unsigned)tier_settings[tier].frame / 48;
    reach = wait_ms > DC_RED_COPY_MARGIN_MS ? (wait_ms - DC_RED_COPY_MARGIN_MS) / frame_ms : 0;
  } else if (loss_in_runs && tier == DC_TIER_HIGHLAND) {
    reach = 2;
  }
  return CLAMP(reach, depth, DC_RED_REACH_MAX);
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
