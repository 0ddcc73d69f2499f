/* source.c — a participant's RTP as it comes in, on its worker (transport.h's rtp callback):
 * its audio handed to audio.c, its video told apart by simulcast layer and sent on to the
 * slots that carry it (video.c) and to the recording. On the way: RTX (RFC 4588) and RED
 * (RFC 2198) unwrapped, ULPFEC (RFC 5109) kept and what it rebuilds sent on, NACKs to the
 * source for what its uplink lost (RFC 4585 §6.2.1), key frames asked of it when a loss is
 * for good or its video comes back after an outage, and numbers that carry no picture (a
 * sender's lost FEC or padding) filled with padding so receivers see no gap. See room.h and
 * room_private.h. */
#include "bridge/room_private.h"

#include <string.h>

#include "media/vp8.h"

/* Which simulcast layer a video packet is; -1 while its SSRC is not yet known. */
static int layer_of(dc_participant *src, const dc_rtp *pkt) {
  if (src->n_layers <= 1) {
    src->layer_ssrc[0] = pkt->ssrc;
    return 0;
  }
  for (int i = 0; i < src->n_layers; i++)
    if (src->layer_ssrc[i] == pkt->ssrc)
      return i;
  dc_rtp_ext_values v;
  dc_rtp_read_exts(pkt, &src->video_ext, &v);
  for (int i = 0; v.rid_len && i < src->n_layers; i++)
    if (!strcmp(src->rids[i], v.rid)) {
      src->layer_ssrc[i] = pkt->ssrc;
      return i;
    }
  return -1;
}

/* The layer an RTX packet repairs: by its SSRC once known (from the offer's FID groups or an
 * earlier packet), else by its repaired-rtp-stream-id (RFC 8852 §3.2). -1 when unknown. */
static int rtx_layer_of(dc_participant *src, const dc_rtp *pkt) {
  for (int i = 0; i < src->n_layers; i++)
    if (src->rtx_ssrc[i] == pkt->ssrc)
      return i;
  if (src->n_layers <= 1) {
    src->rtx_ssrc[0] = pkt->ssrc;
    return 0;
  }
  dc_rtp_ext_values v;
  dc_rtp_read_exts(pkt, &src->video_ext, &v);
  for (int i = 0; v.repaired_rid_len && i < src->n_layers; i++)
    if (!strcmp(src->rids[i], v.repaired_rid)) {
      src->rtx_ssrc[i] = pkt->ssrc;
      return i;
    }
  return -1;
}

/* The source's worker: NACK what is missing from this layer (RFC 4585 §6.2.1), at once on
 * a gap and again every NACK_RETRY_US, so a loss on the sender's leg is repaired there. */
/* Retries a round trip apart (and a quarter for its jitter): a WebRTC sender resends a packet
 * at most once a round trip and ignores NACKs before, so at 300 ms three asks 100 ms apart
 * were one, and one lost resend (5 % on a highland uplink) cost the layer's receivers a
 * key frame. The round trip is the one its reports on our mix give, the same link. */
static void nack_upstream(dc_participant *src, int layer, uint64_t now) {
  uint16_t seqs[DC_NACK_MAX];
  int rtt_ms = g_atomic_int_get(&src->rtt_ms_pub);
  uint64_t retry_us = MAX((uint64_t)NACK_RETRY_US, rtt_ms > 0 ? (uint64_t)rtt_ms * 1250 : 0);
  size_t n = dc_rx_stream_nacks(&src->layer_rx[layer], now, retry_us, dc_repair_age_us(rtt_ms), seqs, DC_NACK_MAX);
  if (!n || !src->nack_upstream)
    return;
  uint8_t buf[DC_TRANSPORT_BUF];
  dc_rtcp_writer w;
  dc_rtcp_writer_init(&w, buf, 1200);
  dc_rtcp_write_nack(&w, src->rtcp_ssrc, src->layer_rx[layer].ssrc, seqs, n);
  if (w.len && !w.overflow && dc_transport_send_rtcp(src->transport, buf, w.len, sizeof buf) == DC_OK)
    dc_metrics_add(&dc_metrics.upstream_nacks, n);
}


void source_prefetch(gpointer user) {
  const dc_participant *src = user;
  __builtin_prefetch(&src->room);
  __builtin_prefetch(&src->observer);
  __builtin_prefetch(&src->audio_pt);
  __builtin_prefetch(&src->audio_rx);
  __builtin_prefetch(&src->uplink);
  __builtin_prefetch(&src->heard);
}

static void media_in(dc_participant *src, int layer, uint8_t *buf, size_t len, const dc_rtp *rtp, uint64_t now,
                     bool rebuilt);

/* A camera's packet in RED (RFC 2198), as WebRTC sends video once ULPFEC is answered: one
 * block, the primary, behind a 1-octet header. The media packet is unwrapped in place (its
 * payload type back to the media's), as its sender protected it; an FEC packet is left as it
 * came. Returns the block's payload type, -1 for what WebRTC never sends (redundant blocks,
 * or a block with no header). A padding-only packet is the media's. */
static int red_unwrap(const dc_participant *src, uint8_t *buf, size_t *len, dc_rtp *pkt) {
  if (!pkt->payload_len) {
    dc_rtp_set_payload_type(buf, (uint8_t)src->video_pt);
    return dc_rtp_parse(pkt, buf, *len) == DC_OK ? src->video_pt : -1;
  }
  uint8_t block = buf[pkt->payload_off];
  if (block & 0x80)
    return -1;
  if (block == src->video_pt) {
    memmove(buf + pkt->payload_off, buf + pkt->payload_off + 1, *len - pkt->payload_off - 1);
    *len -= 1;
    dc_rtp_set_payload_type(buf, block);
    if (dc_rtp_parse(pkt, buf, *len) != DC_OK)
      return -1;
  }
  return block;
}

static void forward_filler(dc_participant *src, int layer, const uint8_t *buf, size_t len, uint64_t now);

/* Numbers missing between two whole frames in a row (a marker ended one; the next picture ID
 * starts the next) carried no picture: a sender's FEC or padding, lost on the way. WebRTC
 * resends neither, and asked for in vain they were given up, which asks the source for a key
 * frame that no decoder needs (one lost FEC packet in a hundred would cost a highland camera
 * a key frame every few seconds). The last few frames' ends and starts are kept, whichever
 * came first: a frame's first packet may come after the next frame's end, rebuilt from FEC.
 * The layer's receivers get padding under those numbers instead: a jitter buffer that orders
 * by sequence number (GStreamer's) waited 300 ms for each and then declared it lost, and the
 * native endpoint's depayloader then dropped every frame until the next key frame. */
static void forget_between(dc_participant *src, int layer, uint16_t end_seq, uint16_t start_seq, uint32_t ts,
                           uint64_t now) {
  uint16_t gap = (uint16_t)(start_seq - end_seq - 1), first = (uint16_t)(end_seq + 1);
  uint16_t forgot[DC_NACK_MAX];
  if (!gap || gap > DC_NACK_MAX)
    return;
  unsigned n = dc_rx_stream_not_needed(&src->layer_rx[layer], first, gap, forgot);
  for (unsigned i = 0; i < n; i++) { /* in order: the missing list keeps none */
    for (unsigned k = i + 1; k < n; k++)
      if ((uint16_t)(forgot[k] - first) < (uint16_t)(forgot[i] - first)) {
        uint16_t t = forgot[i];
        forgot[i] = forgot[k], forgot[k] = t;
      }
    uint8_t filler[DC_RTP_HEADER_MIN + 4] = {0x80, (uint8_t)src->video_pt};
    dc_rtp_set_seq(filler, forgot[i]);
    dc_rtp_set_timestamp(filler, ts);
    dc_rtp_set_ssrc(filler, src->layer_rx[layer].ssrc);
    forward_filler(src, layer, filler, sizeof filler, now);
  }
}

static void skip_between_frames(dc_participant *src, int layer, const dc_rtp *pkt, const dc_vp8_desc *vp8,
                                uint64_t now) {
  if (!vp8->has_picture_id)
    return;
  uint16_t mask = vp8->long_picture_id ? 0x7FFF : 0x7F, pid = vp8->picture_id;
  frame_marks *m = &src->frame_marks[layer];
  if (pkt->marker) {
    m->end[m->next_end++ % FRAME_MARKS] = (frame_mark){.seq = pkt->seq, .picture_id = pid, .known = true};
    for (int i = 0; i < FRAME_MARKS; i++) /* the next frame's start, if it came first */
      if (m->start[i].known && m->start[i].picture_id == ((pid + 1) & mask))
        forget_between(src, layer, pkt->seq, m->start[i].seq, pkt->timestamp, now);
  }
  if (vp8->start_of_partition && vp8->partition_id == 0) {
    m->start[m->next_start++ % FRAME_MARKS] = (frame_mark){.seq = pkt->seq, .picture_id = pid, .known = true};
    for (int i = 0; i < FRAME_MARKS; i++)
      if (m->end[i].known && ((m->end[i].picture_id + 1) & mask) == pid)
        forget_between(src, layer, m->end[i].seq, pkt->seq, pkt->timestamp, now);
  }
}

typedef struct {
  const dc_packet_cache *cache;
  uint32_t ssrc;
  uint64_t now;
} cached_stream;

static size_t cached_packet(void *user, uint16_t seq, uint8_t *out, size_t cap) {
  const cached_stream *c = user;
  return dc_packet_cache_get(c->cache, c->ssrc, seq, c->now, out, cap);
}

/* The packets the held FEC packets can rebuild, each sent on as if it had arrived. The
 * protected packets are looked up in the source's cache, which holds them as they were
 * protected (unwrapped from RED). */
static void fec_rebuild(dc_participant *src, int layer, uint64_t now) {
  dc_rx_stream *rx = &src->layer_rx[layer];
  if (!src->fec || !src->cache)
    return;
  cached_stream c = {src->cache, rx->ssrc, now};
  uint8_t out[DC_TRANSPORT_BUF];
  for (int i = 0; i < DC_ULPFEC_HELD && rx->n_missing && dc_ulpfec_store_any(src->fec); i++) {
    uint16_t seq;
    size_t n = dc_ulpfec_store_recover(src->fec, rx->ssrc, cached_packet, &c, now, out,
                                       DC_TRANSPORT_BUF - DC_SRTP_MAX_TRAILER, &seq);
    if (!n)
      break;
    dc_rtp pkt;
    if (dc_rtp_parse(&pkt, out, n) != DC_OK || pkt.payload_type != src->video_pt || !dc_rx_stream_rebuilt(rx, seq))
      continue; /* not a packet of this stream that is missing: nothing to send */
    dc_metrics_add(&dc_metrics.fec_recovered, 1);
    media_in(src, layer, out, n, &pkt, now, true);
  }
}

/* The source's worker: an FEC packet of one of its layers. It counts as received (it is the
 * sender's packet under its own number), is kept for what it can rebuild, and goes on to the
 * layer's receivers as padding under its number: they see no gap. */
static void fec_in(dc_participant *src, int layer, uint8_t *buf, size_t len, const dc_rtp *pkt, uint64_t now) {
  dc_rx_stream *rx = &src->layer_rx[layer];
  if (rx->ssrc != pkt->ssrc || !rx->started || pkt->payload_len < 2)
    return; /* nothing it protects has come yet */
  if (!dc_rx_stream_update(rx, pkt->seq, pkt->timestamp, len, now))
    return;
  dc_metrics_add(&dc_metrics.fec_packets, 1);
  dc_ulpfec_store_put(src->fec, pkt->ssrc, buf + pkt->payload_off + 1, pkt->payload_len - 1, now);
  forward_filler(src, layer, buf, len, now);
  fec_rebuild(src, layer, now);
  nack_upstream(src, layer, now);
}

/* A packet of the source's layer that carries no picture, to the slots that play the source
 * (or are routed to it) and to the recording when it shows the source, as padding under its
 * number: they see no gap. (The recording's depayloader, rtpvp8depay with wait-for-keyframe,
 * takes a gap for a loss and drops every frame until the next key frame: a highland camera's
 * FEC, one packet every few frames, left its recording little but key frames.) */
static void forward_filler(dc_participant *src, int layer, const uint8_t *buf, size_t len, uint64_t now) {
  dc_room *r = src->room;
  if (g_atomic_int_get(&r->rec_on) && (gintptr)g_atomic_pointer_get(&r->rec_playing) == src->id &&
      len <= DC_TRANSPORT_BUF) {
    uint8_t copy[DC_TRANSPORT_BUF]; /* made into padding in place */
    memcpy(copy, buf, len);
    g_mutex_lock(&r->rec_lock);
    if (r->rec && dc_slot_forward_filler(&r->rec_video, src->id, layer, copy, len, now) == DC_SLOT_SEND)
      dc_recorder_push_video(r->rec, copy, r->rec_video.out_len, now);
    g_mutex_unlock(&r->rec_lock);
  }
  shared_packet *share = NULL;
  g_rw_lock_reader_lock(&r->lock);
  for (guint i = 0; i < src->audience->len; i++) {
    const dc_seat *seat = &g_array_index(src->audience, dc_seat, i);
    dc_participant *rcv = seat->rcv;
    slot *s = &rcv->video[seat->slot];
    /* routed here, or playing it still: the slot knows whether this layer is what it plays
     * (what it has published may lag its first packet of the source) */
    if (!s->off && (s->source == src->id || (gintptr)g_atomic_pointer_get(&s->playing_source) == src->id))
      video_forward_filler(rcv, src, s, layer, buf, len, &share);
  }
  g_rw_lock_reader_unlock(&r->lock);
  shared_packet_unref(share);
}

/* The source's worker: every RTP packet from the participant (transport.h's rtp callback). */
void source_on_rtp(gpointer user, uint8_t *buf, size_t len, size_t cap) {
  (void)cap;
  dc_participant *src = user;
  dc_rtp pkt;
  if (dc_rtp_parse(&pkt, buf, len) != DC_OK)
    return;
  uint64_t now = (uint64_t)g_get_monotonic_time();
  feedback_heard_from(src, now);
  src->recv_bytes += len;
  if (g_atomic_int_get(&src->observer))
    return; /* listen and watch only: heard from (its link is alive), forwarded nowhere */
  if (pkt.payload_type == src->audio_pt || (src->audio_red_pt >= 0 && pkt.payload_type == src->audio_red_pt)) {
    audio_in(src, &pkt, len, now);
    return;
  }
  int layer;
  if (src->rtx_pt >= 0 && (pkt.payload_type == src->rtx_pt || pkt.payload_type == src->red_rtx_pt)) {
    /* a repair we asked for: back to the packet it stands for (in RED when it went so) */
    layer = rtx_layer_of(src, &pkt);
    if (layer < 0 || !src->layer_ssrc[layer])
      return;
    int original_pt = pkt.payload_type == src->rtx_pt ? src->video_pt : src->video_red_pt;
    len = dc_rtx_unwrap(buf, len, (uint8_t)original_pt, src->layer_ssrc[layer]);
    if (!len || dc_rtp_parse(&pkt, buf, len) != DC_OK)
      return; /* a padding-only probe */
    dc_metrics_add(&dc_metrics.repairs_received, 1);
  } else if (pkt.payload_type == src->video_pt || (src->video_red_pt >= 0 && pkt.payload_type == src->video_red_pt)) {
    layer = layer_of(src, &pkt);
    if (layer < 0)
      return;
  } else {
    return;
  }
  if (layer >= src->n_layers)
    return; /* video from a participant that offered none (video_pt is then -1: never) */
  uint32_t ast;
  if (src->video_ext.abs_send_time && dc_rtp_abs_send_time(&pkt, src->video_ext.abs_send_time, &ast))
    dc_uplink_video_packet(&src->up_queue, ast, now); /* its uplink's queue (feedback_report) */
  if (src->video_red_pt >= 0 && pkt.payload_type == src->video_red_pt) {
    int inner = red_unwrap(src, buf, &len, &pkt);
    if (inner == src->ulpfec_pt) {
      fec_in(src, layer, buf, len, &pkt, now);
      return;
    }
    if (inner != src->video_pt)
      return;
  }
  media_in(src, layer, buf, len, &pkt, now, false);
}

static gboolean reroute_on_main(gpointer data) {
  dc_participant *src = data;
  if (!src->left && !src->room->bridge->stopping)
    room_reroute_and_tell(src->room);
  return G_SOURCE_REMOVE;
}

/* The source's worker, each packet of its camera: the first tells the recording's choice
 * (slots.c reroute) it has a camera now, which matters while that choice has none. */
static void camera_seen(dc_participant *src) {
  if (g_atomic_int_get(&src->camera_seen_pub))
    return;
  g_atomic_int_set(&src->camera_seen_pub, 1);
  if (g_atomic_int_get(&src->room->rec_source_camera))
    return;
  room_post_main(src->room->bridge, reroute_on_main, room_ref(src), room_unref);
}

/* The source's worker: one of its video packets, as sent (received, repaired, or rebuilt
 * here from its FEC: then rebuilt is set, and it was missing). */
static void media_in(dc_participant *src, int layer, uint8_t *buf, size_t len, const dc_rtp *rtp, uint64_t now,
                     bool rebuilt) {
  dc_rtp pkt = *rtp;
  dc_rx_stream *rx = &src->layer_rx[layer];
  /* Its video comes again after a silence (its uplink was down): its receivers' decoders
   * wait for a key frame, asked for now rather than when their own requests come. */
  int64_t silent_us = src->layer_seen_us[layer] ? (int64_t)now - src->layer_seen_us[layer] : 0;
  bool back_from_outage = silent_us > OUTAGE_GAP_US;
  if (!rebuilt) {
    if (rx->ssrc != pkt.ssrc || !rx->started) {
      dc_rx_stream_init(rx, pkt.ssrc, 90000);
      memset(&src->frame_marks[layer], 0, sizeof src->frame_marks[layer]); /* another stream's numbers */
    }
    if (!dc_rx_stream_update(rx, pkt.seq, pkt.timestamp, len, now))
      return; /* a duplicate: already forwarded */
  }
  dc_vp8_desc vp8;
  bool is_vp8 = dc_vp8_parse(dc_rtp_payload(&pkt), pkt.payload_len, &vp8) == DC_OK;
  if (is_vp8 && vp8.keyframe) {
    dc_keyframe_gate_key_seen(&src->keyframe_gate[layer], (int64_t)now);
    g_debug("meeting %" G_GINT64_FORMAT " participant %" G_GINT64_FORMAT ": a key frame of layer %d came",
            src->room->meeting, src->id, layer);
  }
  if (is_vp8)
    skip_between_frames(src, layer, &pkt, &vp8, now);
  /* what the layer costs a receiver: a sender's padding (its own bandwidth probe) is not
   * forwarded, so it is not counted either */
  src->layer_bytes[layer] += pkt.payload_len ? len - pkt.padding_len : 0;
  src->layer_padding_bytes += pkt.payload_len ? pkt.padding_len : len;
  if (!pkt.payload_len) /* a sender's probe without RTX: no picture, but a number in the layer */
    forward_filler(src, layer, buf, len, now);
  if (src->cache)
    dc_packet_cache_put(src->cache, pkt.ssrc, pkt.seq, buf, len, now);
  if (back_from_outage) {
    g_message("meeting %" G_GINT64_FORMAT " participant %" G_GINT64_FORMAT ": its video is back after %.1f s: "
              "a key frame asked for", src->room->meeting, src->id, (double)silent_us / 1e6);
    room_request_keyframe(src, layer, PLI_INTERVAL_US);
    /* the key frame makes what the outage took worthless: resends of it (up to ~100
     * numbers, asked three times each) would only take the returning uplink's room */
    dc_rx_stream_give_up_missing(rx, now);
  }
  nack_upstream(src, layer, now);
  /* A sender drops its top layers at low resolution or under load: "highest" means of the
   * layers arriving now (seen within the last second). */
  int highest = -1;
  src->layer_seen_us[layer] = (int64_t)now;
  camera_seen(src);
  for (int i = 0; i < src->n_layers; i++)
    if (src->layer_seen_us[i] && (int64_t)now - src->layer_seen_us[i] < G_USEC_PER_SEC)
      highest = i;
  dc_room *r = src->room;
  shared_packet *share = NULL;
  bool watched = false; /* some slot carries this layer */
  g_rw_lock_reader_lock(&r->lock);
  /* the slots that show it or may (room_seat_audiences): a packet visited every slot of the
   * room before, each a cache miss, 7.6 % of the bridge's time in a room of 300 with 30 cameras */
  for (guint i = 0; i < src->audience->len; i++) {
    const dc_seat *seat = &g_array_index(src->audience, dc_seat, i);
    dc_participant *rcv = seat->rcv;
    slot *s = &rcv->video[seat->slot];
    bool playing = s->source != 0 &&
                   (gintptr)g_atomic_pointer_get(&s->playing_source) == src->id &&
                   g_atomic_int_get(&s->playing_layer) == layer;
    if (s->off) {
      if (playing)
        video_stop_slot(rcv, src, s);
      continue;
    }
    int want = s->want_layer == HIGHEST_LAYER || s->want_layer > highest ? highest : s->want_layer;
    bool routed = s->source == src->id && layer == want;
    /* until the slot has switched, what it plays now keeps flowing */
    if (routed || playing)
      video_forward(rcv, src, s, layer, want, s->source == src->id, false, buf, len, &share);
    watched |= routed || playing;
  }
  g_rw_lock_reader_unlock(&r->lock);
  /* A packet of the layer lost on the source's uplink for good: every decoder of the layer
   * waits for a key frame, so one is asked for now rather than when a receiver asks (Chrome
   * asked 2-3 s later, after NACKing for the packet that never came: the district's view of a
   * 128 kbit/s point froze 3.3 s with 2 packets lost). */
  if (rx->given_up != src->given_up_asked[layer]) {
    g_debug("meeting %" G_GINT64_FORMAT " participant %" G_GINT64_FORMAT ": %" G_GUINT64_FORMAT " packets of layer %d "
            "lost on its uplink for good%s", r->meeting, src->id, rx->given_up - MIN(rx->given_up, src->given_up_asked[layer]),
            layer, watched ? ": a key frame asked for" : "");
    src->given_up_asked[layer] = rx->given_up;
    if (watched)
      room_request_keyframe(src, layer, PLI_INTERVAL_US);
  }
  shared_packet_unref(share);
  video_record(src, layer, highest, buf, len, now);
  if (!rebuilt && src->fec && rx->n_missing)
    fec_rebuild(src, layer, now); /* what it brought may leave a held FEC packet one to rebuild */
}

/* The recording's picture: the source it should show, at its highest layer arriving, and
 * until the switch (at that source's key frame, asked for here) what it shows now. */
void video_record(dc_participant *src, int layer, int highest, const uint8_t *buf, size_t len, uint64_t now) {
  dc_room *r = src->room;
  if (!g_atomic_int_get(&r->rec_on))
    return;
  bool wanted = (gintptr)g_atomic_pointer_get(&r->rec_source) == src->id;
  if (!wanted && (gintptr)g_atomic_pointer_get(&r->rec_playing) != src->id)
    return; /* the common case, without a lock */
  if (len > DC_TRANSPORT_BUF)
    return;
  uint8_t copy[DC_TRANSPORT_BUF]; /* forwarded in place: the receivers' copies are made */
  memcpy(copy, buf, len);
  bool ask = false;
  g_mutex_lock(&r->rec_lock);
  if (r->rec) {
    dc_slot *s = &r->rec_video;
    /* The layer is chosen once per source (its best arriving then) and moved only down,
     * when it stops arriving: each move asks the source for a key frame on the new layer,
     * which every receiver of that layer pays for too. */
    if (wanted && (s->want_source != src->id || s->want_layer > highest))
      dc_slot_want(s, src->id, highest);
    if (dc_slot_forward(s, src->id, layer, copy, len, now) == DC_SLOT_SEND)
      dc_recorder_push_video(r->rec, copy, s->out_len, now);
    g_atomic_pointer_set(&r->rec_playing, (gpointer)(gintptr)s->source);
    ask = wanted && dc_slot_needs_keyframe(s);
    layer = s->want_layer;
  }
  g_mutex_unlock(&r->rec_lock);
  if (ask)
    room_request_keyframe(src, layer, PLI_INTERVAL_US); /* throttled: at most twice a second */
}

