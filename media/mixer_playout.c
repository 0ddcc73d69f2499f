/* mixer_playout.c — each participant's jitter buffer in the mixer (see mixer.h): its
 * packets kept in timestamp order (the frames a RED packet (RFC 2198) carries fill the gaps),
 * and at each tick the frame it plays: decoded, rebuilt from the next packet's in-band FEC,
 * or concealed; playout started as close behind the newest packet as its jitter allows,
 * waiting through a stall and catching up after it by dropping quiet frames. See
 * mixer_private.h. */
#include "media/mixer_private.h"

#include <math.h>
#include <string.h>

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
  p->newest_dtx = pkt->payload_len <= DC_DTX_FRAME_MAX;
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
void mixer_play(dc_mixer *m, part *p, int16_t *out) {
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
