/* pacer.c — a token bucket in front of a ring of packets; see pacer.h. */
#include "media/pacer.h"

#include <glib.h>
#include <string.h>

#define MIN_BURST_BITS (2 * 1500 * 8)

struct dc_pacer {
  uint8_t *ring;
  size_t cap, limit;      /* the ring's size now, and the most it may grow to */
  size_t head, used;      /* bytes: the oldest record starts at head */
  size_t packets;
  uint64_t bps;
  double tokens; /* bits that may leave now; negative after a packet larger than the budget */
  uint64_t last_us;
  uint64_t grew_us; /* when the ring last grew */
  bool started;
  /* the audio's beat (dc_pacer_keep_clear): its last packet, its period, the link's rate */
  uint64_t audio_us, audio_period_us, audio_link_bps;
  uint64_t link_free_us; /* when what we sent has crossed the link, at audio_link_bps */
  uint64_t beat_free_us;  /* when the last beat's audio had crossed it */
  uint64_t audio_met_us;  /* when the link would have been free for the last audio (consume) */
  bool beat_clear;        /* the last beat's audio met the link (nearly) free */
  dc_pacer_stats stats;
};

dc_pacer *dc_pacer_new(size_t capacity) {
  dc_pacer *p = g_new0(dc_pacer, 1);
  p->limit = MAX(capacity, (size_t)1600);
  p->cap = MIN(p->limit, (size_t)DC_PACER_RING_START);
  p->ring = g_malloc(p->cap);
  p->bps = 1000000;
  return p;
}

void dc_pacer_free(dc_pacer *p) {
  if (!p)
    return;
  g_free(p->ring);
  g_free(p);
}

static double burst_bits(const dc_pacer *p) {
  return MAX((double)p->bps * DC_PACER_BURST_US / 1e6, (double)MIN_BURST_BITS);
}

/* Tokens accrue at the rate since the last call, up to the burst. */
static void refill(dc_pacer *p, uint64_t now_us) {
  if (!p->started) {
    p->started = true;
    p->tokens = burst_bits(p);
    p->last_us = now_us;
  } else if (now_us > p->last_us) {
    p->tokens = MIN(p->tokens + (double)(now_us - p->last_us) * (double)p->bps / 1e6, burst_bits(p));
    p->last_us = now_us;
  }
}

void dc_pacer_keep_clear(dc_pacer *p, uint64_t audio_us, uint64_t period_us, uint64_t link_bps) {
  p->audio_us = audio_us;
  p->audio_period_us = period_us;
  p->audio_link_bps = link_bps;
  p->beat_free_us = MAX(audio_us, p->link_free_us);
  p->beat_clear = p->audio_met_us <= audio_us + DC_PACER_AUDIO_SLACK_US;
}

/* 0 when a packet of len bytes may start across the link at now without the next audio
 * packet waiting behind it more than DC_PACER_AUDIO_SLACK_US; else when to ask again: the
 * audio's next beat, after which the link is free for a period. */
static uint64_t clear_until(const dc_pacer *p, size_t len, uint64_t now_us) {
  uint64_t period = p->audio_period_us;
  if (!period || !p->audio_link_bps || now_us < p->audio_us)
    return 0;
  uint64_t since = now_us - p->audio_us;
  if (since >= DC_PACER_AUDIO_QUIET_BEATS * period) /* the audio is silent (DTX): no beat to keep */
    return 0;
  /* video backed up (a key frame, repairs, an estimate that fell): the beat would hold it to a
   * packet or two a period, below the pacer's rate, and the picture would stall; it goes as
   * paced, and the beat comes back once the queue is short */
  size_t queued = p->used - 2 * p->packets;
  if ((uint64_t)queued * 8 * 1000000 > (uint64_t)p->audio_link_bps * period * DC_PACER_AUDIO_BACKLOG_BEATS)
    return 0;
  uint64_t beats = since / period, into = since - beats * period;
  /* a beat came and its audio not yet (the mix clock runs a little late): wait a moment for it */
  if (beats && into < DC_PACER_AUDIO_LATE_US)
    return now_us - into + DC_PACER_AUDIO_LATE_US;
  uint64_t next = p->audio_us + (beats + 1) * period;
  uint64_t start = MAX(now_us, p->link_free_us), crossing = (uint64_t)len * 8 * 1000000 / p->audio_link_bps;
  if (start + crossing <= next + DC_PACER_AUDIO_SLACK_US)
    return 0;
  /* longer than a beat: it goes when the link is clear, just after the audio */
  if (crossing + DC_PACER_AUDIO_SLACK_US > period && !beats && p->beat_clear && start <= p->beat_free_us + 1000)
    return start > now_us ? start : 0;
  return next + DC_PACER_AUDIO_LATE_US; /* the audio's send wakes it sooner */
}

/* What crosses the link (video we let go, audio beside it) keeps it busy that long. */
static void link_busy(dc_pacer *p, size_t len, uint64_t now_us) {
  if (p->audio_link_bps)
    p->link_free_us = MAX(now_us, p->link_free_us) + (uint64_t)len * 8 * 1000000 / p->audio_link_bps;
}

uint64_t dc_pace_rate_bps(double factor, uint64_t estimate_bps, uint64_t remb_bps, uint64_t coming_bps,
                          uint64_t probe_bps) {
  uint64_t link = remb_bps && remb_bps < estimate_bps ? remb_bps : estimate_bps;
  return (uint64_t)(factor * (double)MAX(MAX(link, coming_bps), probe_bps));
}

void dc_pacer_set_rate(dc_pacer *p, uint64_t bps, uint64_t now_us) {
  refill(p, now_us);
  p->bps = MAX(bps, (uint64_t)8000);
  p->tokens = MIN(p->tokens, burst_bits(p));
}

static void ring_write(dc_pacer *p, size_t at, const uint8_t *src, size_t n) {
  at %= p->cap;
  size_t first = MIN(n, p->cap - at);
  memcpy(p->ring + at, src, first);
  memcpy(p->ring, src + first, n - first);
}

static void ring_read(const dc_pacer *p, size_t at, uint8_t *dst, size_t n) {
  at %= p->cap;
  size_t first = MIN(n, p->cap - at);
  memcpy(dst, p->ring + at, first);
  memcpy(dst + first, p->ring, n - first);
}

/* Doubles the ring (at most to its limit) until need bytes fit; what it holds moves to the
 * start of the new one. */
static void grow(dc_pacer *p, size_t need) {
  size_t cap = p->cap;
  while (cap < need && cap < p->limit)
    cap = MIN(cap * 2, p->limit);
  if (cap == p->cap || cap < need)
    return;
  uint8_t *ring = g_malloc(cap);
  ring_read(p, p->head, ring, p->used);
  g_free(p->ring);
  p->ring = ring;
  p->cap = cap;
  p->head = 0;
}

/* An empty ring that has not needed its size for DC_PACER_SHRINK_US goes back to its start
 * (a storm's backlog grew every receiver's, and they kept it: 33 KiB a participant at 300). */
static void maybe_shrink(dc_pacer *p, uint64_t now_us) {
  if (p->packets || p->cap <= DC_PACER_RING_START || now_us < p->grew_us + DC_PACER_SHRINK_US)
    return;
  g_free(p->ring);
  p->cap = DC_PACER_RING_START;
  p->ring = g_malloc(p->cap);
  p->head = p->used = 0;
}

bool dc_pacer_push(dc_pacer *p, const uint8_t *pkt, size_t len, uint64_t now_us) {
  if (len > 0 && len <= 0xFFFF && p->used + 2 + len > p->cap) {
    grow(p, p->used + 2 + len);
    p->grew_us = now_us;
  }
  if (len == 0 || len > 0xFFFF || p->used + 2 + len > p->cap) {
    p->stats.dropped++;
    return false;
  }
  uint8_t hdr[2] = {(uint8_t)(len >> 8), (uint8_t)len};
  ring_write(p, p->head + p->used, hdr, 2);
  ring_write(p, p->head + p->used + 2, pkt, len);
  p->used += 2 + len;
  p->packets++;
  return true;
}

bool dc_pacer_admit(dc_pacer *p, size_t len, bool keep_beat, uint64_t now_us) {
  refill(p, now_us);
  if (p->packets || p->tokens < MIN((double)len * 8, burst_bits(p)) || (keep_beat && clear_until(p, len, now_us)))
    return false;
  maybe_shrink(p, now_us);
  p->tokens -= (double)len * 8;
  link_busy(p, len, now_us);
  p->stats.sent++;
  return true;
}

void dc_pacer_consume(dc_pacer *p, size_t len, uint64_t now_us) {
  refill(p, now_us);
  p->tokens -= (double)len * 8;
  p->audio_met_us = p->link_free_us;
  link_busy(p, len, now_us);
}

size_t dc_pacer_pop(dc_pacer *p, uint64_t now_us, uint8_t *out, size_t cap, uint64_t *wake_us) {
  refill(p, now_us);
  for (;;) {
    if (!p->packets) {
      *wake_us = 0;
      return 0;
    }
    uint8_t hdr[2];
    ring_read(p, p->head, hdr, 2);
    size_t len = (size_t)hdr[0] << 8 | hdr[1];
    /* a packet leaves once the budget holds it (or a full burst, for one larger than that) */
    double need = MIN((double)len * 8, burst_bits(p));
    if (len <= cap && p->tokens < need) {
      *wake_us = now_us + (uint64_t)((need - p->tokens) * 1e6 / (double)p->bps) + 1;
      return 0;
    }
    uint64_t beat = len <= cap ? clear_until(p, len, now_us) : 0;
    if (beat) {
      *wake_us = beat;
      return 0;
    }
    if (len <= cap)
      ring_read(p, p->head + 2, out, len);
    p->head = (p->head + 2 + len) % p->cap;
    p->used -= 2 + len;
    p->packets--;
    if (len > cap) {
      p->stats.dropped++;
      continue;
    }
    p->tokens -= (double)len * 8;
    link_busy(p, len, now_us);
    p->stats.sent++;
    *wake_us = p->packets ? now_us : 0;
    maybe_shrink(p, now_us);
    return len;
  }
}

dc_pacer_stats dc_pacer_get_stats(const dc_pacer *p) {
  dc_pacer_stats s = p->stats;
  s.queued_bytes = p->used - 2 * p->packets;
  s.queued_packets = p->packets;
  s.ring_bytes = p->cap;
  return s;
}
