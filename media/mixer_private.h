/* mixer_private.h — what mixer.c and mixer_playout.c share: the mixer as data. Nothing
 * outside them includes it (mixer.h is the interface).
 *   mixer.c          membership, talker selection, N−1 mixing, per-tier encoding, policies
 *   mixer_playout.c  each participant's jitter buffer: packets in (and RED's copies), and the
 *                    frame it plays at each tick (decoded, FEC, concealed, caught up) */
#ifndef DC_MIXER_PRIVATE_H
#define DC_MIXER_PRIVATE_H

#include "media/mixer.h"

#include <opus.h>

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
#define MEASURE_TURN_US 200000 /* a decoder held to measure a quiet point goes round after this */
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
  bool newest_dtx;       /* the last packet to come was a DTX frame (DC_DTX_FRAME_MAX bytes or less) */
  uint64_t dec_since_us; /* when it took its decoder */
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
  bool dtx; /* its tier's encoder setting */
  /* Frames of digital silence fed in a row, and whether `out` (in buf and copy_buf) is a
   * settled silent frame to send again instead of encoding the next (mixer.c, feed) */
  unsigned zero_frames;
  bool silence_ready;
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
  bool reduced_effort;                   /* dc_mixer_set_reduced_effort */
  unsigned big_tier, big_tier_back;      /* a tier's members for 40 ms frames, and for 20 again */
  unsigned measure_from;                 /* where this tick's walk of points to measure starts */
};

static inline part *get(const dc_mixer *m, int slot) {
  return slot >= 0 && (unsigned)slot < m->cap && m->parts[slot].active ? &m->parts[slot] : NULL;
}

/* Time from then to now, 0 when then is later: the tick's time is its deadline, and a packet
 * handled after the deadline but before the tick ran is stamped later than it. */
static inline uint64_t since(uint64_t now, uint64_t then) { return now > then ? now - then : 0; }

/* mixer_playout.c: p's next DC_MIX_TICK samples at this tick into out (silence when it has
 * none to play), from its jitter buffer through its decoder. */
void mixer_play(dc_mixer *m, part *p, int16_t *out);

#endif
