/* router.c — per-slot continuity and key-frame switching; see router.h. */
#include "media/router.h"

#include <string.h>

#include "media/rtp.h"
#include "media/vp8.h"

#define VIDEO_CLOCK 90 /* RTP ticks per millisecond for video */

void dc_slot_init(dc_slot *s, uint32_t out_ssrc, uint8_t out_pt) {
  memset(s, 0, sizeof *s);
  s->out_ssrc = out_ssrc;
  s->out_pt = out_pt;
  s->source = s->want_source = DC_SLOT_NONE;
}

void dc_slot_want(dc_slot *s, int64_t source, int layer) {
  s->want_source = source;
  s->want_layer = layer;
  if (source == DC_SLOT_NONE)
    s->source = DC_SLOT_NONE;
}

bool dc_slot_needs_keyframe(const dc_slot *s) {
  return s->want_source != DC_SLOT_NONE &&
         (s->want_source != s->source || s->want_layer != s->layer);
}

dc_slot_result dc_slot_forward(dc_slot *s, int64_t source, int layer, uint8_t *buf, size_t len,
                               uint64_t now_us) {
  dc_rtp pkt;
  dc_vp8_desc d;
  if (dc_rtp_parse(&pkt, buf, len) != DC_OK ||
      dc_vp8_parse(dc_rtp_payload(&pkt), pkt.payload_len, &d) != DC_OK)
    return DC_SLOT_INVALID;
  bool current = source == s->source && layer == s->layer && pkt.ssrc == s->in_ssrc;
  bool wanted = source == s->want_source && layer == s->want_layer;
  if (!current) {
    if (!wanted || !d.keyframe)
      return DC_SLOT_DROP;
    /* The switch: this key frame continues the slot as its next frame. */
    uint16_t next_seq = s->started ? (uint16_t)(s->last_seq + 1) : pkt.seq;
    uint64_t gap_ms = s->started && now_us > s->last_us ? (now_us - s->last_us) / 1000 : 0;
    uint32_t next_ts = s->started ? s->last_ts + (uint32_t)((gap_ms ? gap_ms : 33) * VIDEO_CLOCK) : pkt.timestamp;
    s->seq_delta = (uint16_t)(next_seq - pkt.seq);
    s->ts_delta = next_ts - pkt.timestamp;
    if (d.has_picture_id)
      s->pid_delta = (uint16_t)((s->started ? s->last_pid + 1 : d.picture_id) - d.picture_id);
    if (d.has_tl0picidx)
      s->tl0_delta = (uint8_t)((s->started ? s->last_tl0 + 1 : d.tl0picidx) - d.tl0picidx);
    s->source = source;
    s->layer = layer;
    s->in_ssrc = pkt.ssrc;
    if (s->started)
      s->switches++;
    s->started = true;
    s->last_seq = (uint16_t)(next_seq - 1);
  }
  uint16_t seq = (uint16_t)(pkt.seq + s->seq_delta);
  uint32_t ts = pkt.timestamp + s->ts_delta;
  uint8_t *payload = buf + pkt.payload_off;
  if (d.has_picture_id) {
    uint16_t pid = (uint16_t)(d.picture_id + s->pid_delta);
    dc_vp8_set_picture_id(payload, &d, pid);
    if (dc_seq_newer(seq, s->last_seq))
      s->last_pid = pid & (d.long_picture_id ? 0x7FFF : 0x7F);
  }
  if (d.has_tl0picidx) {
    uint8_t tl0 = (uint8_t)(d.tl0picidx + s->tl0_delta);
    dc_vp8_set_tl0picidx(payload, &d, tl0);
    if (dc_seq_newer(seq, s->last_seq))
      s->last_tl0 = tl0;
  }
  if (dc_seq_newer(seq, s->last_seq)) {
    s->last_seq = seq;
    s->last_ts = ts;
    s->last_us = now_us;
  }
  dc_rtp_set_seq(buf, seq);
  dc_rtp_set_timestamp(buf, ts);
  dc_rtp_set_ssrc(buf, s->out_ssrc);
  dc_rtp_set_payload_type(buf, s->out_pt);
  return DC_SLOT_SEND;
}

bool dc_pli_allow(dc_pli_throttle *t, uint64_t now_us) {
  if (t->ever && now_us - t->last_us < t->interval_us)
    return false;
  t->ever = true;
  t->last_us = now_us;
  return true;
}
