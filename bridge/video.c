/* video.c — the video path on the media workers: a source's packet to the slots that carry
 * it, key-frame requests, repairs asked of sources, pacing and probing each receiver's
 * link; RTCP both ways is feedback.c. See room.h (what it promises) and room_private.h. */
#include "bridge/room_private.h"

#include <string.h>

#include "media/vp8.h"

/* ---- keyframe requests (the source's worker) ---- */

typedef struct {
  dc_participant *src;
  unsigned layers; /* bit i: simulcast layer i */
  int64_t interval_us;
  bool held; /* a request held by the spacing, its time come (dc_keyframe_gate_due) */
} keyframe_request;

static void free_keyframe_request(gpointer data) {
  keyframe_request *q = data;
  room_unref(q->src);
  g_free(q);
}

static gboolean send_pli(gpointer data);

/* A request the spacing held: sent when the spacing ends, unless a key frame comes first. */
static void send_pli_later(dc_participant *src, int layer, int64_t delay_us) {
  keyframe_request *q = g_new0(keyframe_request, 1);
  q->src = room_ref(src);
  q->layers = 1u << layer;
  q->held = true;
  GSource *timer = g_timeout_source_new((guint)((delay_us + 999) / 1000));
  g_source_set_callback(timer, send_pli, q, free_keyframe_request);
  g_source_attach(timer, dc_worker_context(src->worker));
  g_source_unref(timer);
}

/* Only the layers asked for: a key frame is several times an inter frame, and a sender's
 * rate control drops frames after one to pay for it, so a key frame on a layer nobody is
 * switching to freezes the receivers of that layer for nothing (and costs a thin link half
 * a second). Each layer is asked at most every PLI_INTERVAL_US, or RECEIVER_PLI_INTERVAL_US for a
 * receiver's loss; a request inside the spacing is held to its end (dc_keyframe_gate). */
static gboolean send_pli(gpointer data) {
  keyframe_request *q = data;
  dc_participant *src = q->src;
  int64_t now = g_get_monotonic_time();
  if (src->closed)
    return G_SOURCE_REMOVE;
  uint8_t buf[DC_TRANSPORT_BUF];
  dc_rtcp_writer w;
  dc_rtcp_writer_init(&w, buf, 512);
  /* PLI (RFC 4585 §6.3.1) where the source takes it, else FIR (RFC 5104 §4.3.1) where it
   * takes that; a source that negotiated neither gets a PLI all the same (browsers act on
   * it), since without a key frame nobody can switch to it. */
  bool fir = !(src->video_fb & DC_FB_PLI) && (src->video_fb & DC_FB_FIR);
  bool counted = false;
  for (int i = 0; i < src->n_layers && i < DC_SDP_MAX_LAYERS; i++) {
    /* A packet of the layer lost on the source's own uplink, for good, since the last request:
     * every receiver of the layer waits for a key frame, whichever asks, and none of their
     * links is to blame, so a receiver's request is not held back as for its own loss (on a
     * 128 kbit/s uplink with 5 % loss the district's view of the point froze 3 s). */
    dc_keyframe_gate *gate = &src->keyframe_gate[i];
    int64_t interval = q->interval_us, due = 0;
    if (src->layer_rx && (int64_t)src->layer_rx[i].given_up_us > gate->sent_us)
      interval = MIN(interval, PLI_INTERVAL_US);
    if (!(q->layers >> i & 1) || !src->layer_ssrc[i])
      continue;
    if (q->held) {
      if (!dc_keyframe_gate_due(gate, now))
        continue;
    } else {
      dc_keyframe_verdict v = dc_keyframe_gate_ask(gate, now, interval, &due);
      if (v == DC_KEYFRAME_HELD_NEW) {
        send_pli_later(src, i, due - now);
        g_debug("meeting %" G_GINT64_FORMAT " participant %" G_GINT64_FORMAT ": a key frame of layer %d held %.2f s "
                "(the spacing)", src->room->meeting, src->id, i, (double)(due - now) / 1e6);
      }
      if (v != DC_KEYFRAME_SEND)
        continue;
    }
    g_debug("meeting %" G_GINT64_FORMAT " participant %" G_GINT64_FORMAT ": a key frame of layer %d asked for%s",
            src->room->meeting, src->id, i, q->held ? " (held till now)" : "");
    if (fir && !counted) {
      src->fir_seq++; /* one new request, whatever it names */
      counted = true;
    }
    if (fir)
      dc_rtcp_write_fir(&w, src->rtcp_ssrc, src->layer_ssrc[i], src->fir_seq);
    else
      dc_rtcp_write_pli(&w, src->rtcp_ssrc, src->layer_ssrc[i]);
  }
  if (w.len && dc_transport_send_rtcp(src->transport, buf, w.len, sizeof buf) == DC_OK)
    dc_metrics_add(&dc_metrics.keyframe_requests, 1);
  return G_SOURCE_REMOVE;
}

void room_request_keyframe(dc_participant *src, int layer, int64_t interval_us) {
  keyframe_request *q = g_new0(keyframe_request, 1);
  q->src = room_ref(src);
  q->interval_us = MAX(interval_us, PLI_INTERVAL_US);
  q->layers = layer < 0 ? ~0u : 1u << MIN(layer, 31);
  dc_worker_invoke(src->worker, send_pli, q, free_keyframe_request);
}

/* ---- forwarding ---- */

/* A hand-off to a receiver's worker: video deliveries and mix deliveries are bounded
 * together per receiver (MAX_PENDING), and by the worker's queue (DC_WORKER_QUEUE_MAX). */
static void note_dropped(dc_participant *rcv) {
  dc_metrics_add(&dc_metrics.deliveries_dropped, 1);
  if (g_atomic_int_add(&rcv->dropped, 1) % 1000 == 0)
    g_warning("meeting %" G_GINT64_FORMAT " participant %" G_GINT64_FORMAT
              ": its media worker is behind; dropping packets", rcv->room->meeting, rcv->id);
}

bool room_reserve(dc_participant *rcv) {
  if (g_atomic_int_add(&rcv->pending, 1) < MAX_PENDING)
    return true;
  g_atomic_int_add(&rcv->pending, -1);
  note_dropped(rcv);
  return false;
}

void room_release(dc_participant *rcv) {
  g_atomic_int_add(&rcv->pending, -1);
  room_unref(rcv);
}

bool room_post(dc_participant *rcv, void (*fn)(void *msg), void (*ahead)(const void *msg, unsigned stage),
               const void *msg, size_t len) {
  if (!room_reserve(rcv))
    return false;
  if (dc_worker_post_ahead(rcv->worker, fn, ahead, msg, len))
    return true;
  g_atomic_int_add(&rcv->pending, -1);
  note_dropped(rcv);
  return false;
}

void room_prefetch_delivery(const dc_participant *rcv, const slot *s, unsigned stage) {
  if (stage == 0) {
    __builtin_prefetch(&rcv->transport);
    __builtin_prefetch(&rcv->closed);
    __builtin_prefetch(&rcv->sent_bytes);
    __builtin_prefetch(&rcv->audio_losses);
    __builtin_prefetch(&s->section);
    __builtin_prefetch(&s->started);
    __builtin_prefetch(&s->red_pt);
    return;
  }
  if (!rcv->closed && rcv->transport) /* else the delivery sends nothing */
    dc_transport_prefetch_send(rcv->transport, stage - 1);
}

shared_packet *shared_packet_new(const uint8_t *data, size_t len) {
  return shared_packet_new_with_copy(data, len, NULL, 0);
}

shared_packet *shared_packet_new_with_copy(const uint8_t *data, size_t len, const uint8_t *copy, size_t copy_len) {
  shared_packet *p = g_malloc(sizeof *p + len + copy_len);
  p->refs = 1;
  p->len = (uint16_t)len;
  p->copy_len = (uint16_t)copy_len;
  memcpy(p->data, data, len);
  if (copy_len)
    memcpy(p->data + len, copy, copy_len);
  return p;
}

shared_packet *shared_packet_ref(shared_packet *p) {
  g_atomic_int_inc(&p->refs);
  return p;
}

void shared_packet_unref(shared_packet *p) {
  if (p && g_atomic_int_dec_and_test(&p->refs))
    g_free(p);
}

/* A video packet (or a stop) for one receiver's slot. Posted to another worker it holds a
 * reference on both participants and on the packet; handled on the source's own worker it
 * holds none (the caller's do). */
typedef struct {
  dc_participant *rcv;
  dc_participant *src;
  slot *slot;
  shared_packet *pkt;        /* posted only; NULL for a stop */
  int16_t layer, want_layer; /* this packet's layer; the layer the source wants the slot on */
  bool routed;               /* the slot is routed to this source (not only still playing it) */
  bool repair;               /* a retransmission the receiver asked for */
  bool filler;               /* a source's FEC packet used here: padding under its number */
  bool stop;                 /* no packet: the slot is off, stop playing */
  dc_rtp_ext_ids src_ext;
} delivery;
G_STATIC_ASSERT(sizeof(delivery) <= DC_WORKER_MSG_MAX);

/* abs-send-time (6.18 fixed-point seconds, 24 bits) of now: the receiver's REMB estimates
 * the bridge-to-receiver leg from it, so it must be our send time, not the source's. */
static uint32_t abs_send_time_now(void) {
  return (uint32_t)(((uint64_t)g_get_monotonic_time() << 18) / G_USEC_PER_SEC) & 0xFFFFFF;
}

/* ---- pacing (media/pacer): a receiver's video leaves at the rate its link carries ---- */

static const size_t pacer_bytes[DC_TIER_COUNT] = {
    [DC_TIER_HALL] = 96 * 1024, [DC_TIER_STANDARD] = 48 * 1024, [DC_TIER_HIGHLAND] = 32 * 1024};

static void pace_drain(dc_participant *rcv);

static gboolean pace_wake(gpointer data) {
  dc_participant *rcv = data;
  rcv->pace_pending = false;
  pace_drain(rcv);
  return G_SOURCE_REMOVE;
}

/* A video packet leaving now, its abs-send-time (extension id ast_id on this receiver's leg,
 * 0: none) stamped with our send time. buf has room for the SRTP trailer (cap). */
static void send_video(dc_participant *rcv, uint8_t *buf, size_t len, size_t cap, uint8_t ast_id) {
  dc_rtp parsed;
  if (ast_id && dc_rtp_parse(&parsed, buf, len) == DC_OK)
    dc_rtp_set_abs_send_time(buf, &parsed, ast_id, abs_send_time_now());
  if (dc_transport_send_rtp(rcv->transport, buf, len, cap) == DC_OK)
    rcv->sent_bytes += len;
}

/* Sends what the pacer lets go now; asks to be woken for the rest. */
static void pace_drain(dc_participant *rcv) {
  if (rcv->closed || !rcv->pacer)
    return;
  uint8_t buf[DC_TRANSPORT_BUF];
  uint64_t now = (uint64_t)g_get_monotonic_time(), wake = 0;
  size_t len;
  /* a queued record is the abs-send-time id, then the packet */
  while ((len = dc_pacer_pop(rcv->pacer, now, buf, sizeof buf - DC_SRTP_MAX_TRAILER, &wake)) > 0)
    send_video(rcv, buf + 1, len - 1, sizeof buf - 1, buf[0]);
  if (wake && !rcv->pace_pending) {
    rcv->pace_pending = true;
    GSource *t = g_timeout_source_new((guint)MAX((wake - now + 999) / 1000, 1));
    g_source_set_callback(t, pace_wake, room_ref(rcv), room_unref);
    g_source_attach(t, dc_worker_context(rcv->worker));
    g_source_unref(t);
  }
}

/* The receiver's worker: a video packet (or its RTX) out through the receiver's pacer: at
 * once while the budget allows and nothing waits, else queued. buf has room for the SRTP
 * trailer (cap). */
static void pace_out(dc_participant *rcv, uint8_t *buf, size_t len, size_t cap, uint8_t ast_id) {
  uint64_t now = (uint64_t)g_get_monotonic_time();
  if (!rcv->pacer) {
    rcv->pacer = dc_pacer_new(pacer_bytes[rcv->tier]);
    dc_pacer_set_rate(rcv->pacer, (uint64_t)(PACE_FACTOR * (double)dc_bwe_estimate(&rcv->bwe)), now);
  }
  if (dc_pacer_admit(rcv->pacer, len + 1, now)) {
    rcv->paced_bytes += len;
    send_video(rcv, buf, len, cap, ast_id);
    return;
  }
  uint8_t rec[DC_TRANSPORT_BUF + 1];
  rec[0] = ast_id;
  memcpy(rec + 1, buf, len);
  if (dc_pacer_push(rcv->pacer, rec, len + 1, now))
    rcv->paced_bytes += len;
  pace_drain(rcv);
}

/* Audio sent beside the pacer takes its share of the budget. */
void pace_consume(dc_participant *rcv, size_t len, uint64_t now) {
  if (rcv->pacer)
    dc_pacer_consume(rcv->pacer, len, now);
}

/* ---- probing (media/router dc_probe): padding up to the rate a move up would reach ---- */

#define PROBE_TICK_MS 20
#define PROBE_RETRY_US 2000000 /* after a failed probe: the main thread's upgrade guard takes over */

/* The receiver's worker, every PROBE_TICK_MS while a probe runs: padding-only RTX on the
 * main slot, what brings all that went to the receiver since the probe began up to the
 * probe's rate, within the pacer's budget (never ahead of queued video: padding the pacer
 * cannot take now is not sent at all). Counted from what went out, not from the rate before
 * the probe: that rate, a smoothed second, still held the previous probe's padding when one
 * step followed another, and the next probe then padded too little and failed on its own
 * shortfall (a main slot that had gone off came back 18 s after the loss ended, not 8). At
 * most two ticks' share at once, so a stalled worker does not catch up in one burst. */
static gboolean probe_tick(gpointer data) {
  dc_participant *rcv = data;
  slot *s = &rcv->video[0];
  if (rcv->closed || !rcv->probe.running || !rcv->n_video || s->rtx_pt < 0) {
    rcv->probe_timer = false;
    return G_SOURCE_REMOVE;
  }
  if (!rcv->pacer || !s->core.started)
    return G_SOURCE_CONTINUE;
  uint64_t now = (uint64_t)g_get_monotonic_time();
  uint64_t wanted = rcv->probe.target_bps / 8 * (now - rcv->probe.started_us) / 1000000;
  uint64_t went = rcv->sent_total + rcv->sent_bytes - rcv->probe.sent_at_start;
  uint64_t per_tick = rcv->probe.target_bps / 8 * PROBE_TICK_MS / 1000;
  size_t due = (size_t)MIN(wanted > went ? wanted - went : 0, 2 * per_tick);
  uint8_t buf[DC_TRANSPORT_BUF];
  while (due > 0) {
    size_t len = dc_rtx_padding(buf, sizeof buf - DC_SRTP_MAX_TRAILER, (uint8_t)s->rtx_pt, s->rtx_ssrc,
                                s->rtx_seq, s->core.last_ts, s->ext.abs_send_time, MIN(due, 300));
    if (!len || !dc_pacer_admit(rcv->pacer, len + 1, now))
      break;
    s->rtx_seq++;
    send_video(rcv, buf, len, sizeof buf, s->ext.abs_send_time);
    rcv->probe_bytes += len;
    due = due > len ? due - len : 0;
  }
  return G_SOURCE_CONTINUE;
}

/* The receiver's worker, each tick: the layer choice's wish (probe_target_kbps) starts a
 * probe; a running one is judged on the feedback since it began. */
void video_probe_step(dc_participant *p, uint64_t now) {
  unsigned target_kbps = (unsigned)g_atomic_int_get(&p->probe_target_kbps);
  dc_probe_state st = dc_probe_step(&p->probe, p->bwe.congestion_signals, (uint8_t)MIN(p->last_loss, 255),
                                    p->sent_total, now);
  if (st == DC_PROBE_PASSED) {
    dc_bwe_on_probe(&p->bwe, p->probe.target_bps, now);
    g_message("meeting %" G_GINT64_FORMAT " participant %" G_GINT64_FORMAT ": probe at %" G_GUINT64_FORMAT
              " kbit/s passed (%" G_GUINT64_FORMAT " kbit/s went out; %zu B of padding in all)", p->room->meeting,
              p->id, p->probe.target_bps / 1000, p->probe.achieved_bps / 1000, (size_t)p->probe_bytes);
  } else if (st == DC_PROBE_FAILED) {
    dc_bwe_on_probe_failed(&p->bwe, p->probe.estimate_at_start, p->sending_before_probe, now);
    g_atomic_int_inc(&p->probes_failed);
    p->probe_hold_until = now + PROBE_RETRY_US; /* till the layer choice holds the slot */
    g_message("meeting %" G_GINT64_FORMAT " participant %" G_GINT64_FORMAT ": probe at %" G_GUINT64_FORMAT
              " kbit/s failed (%" G_GUINT64_FORMAT " kbit/s out by the last tick; REMB %" G_GUINT64_FORMAT " kbit/s, loss %u/256); "
              "its main slot stays", p->room->meeting, p->id, p->probe.target_bps / 1000,
              p->probe.achieved_bps / 1000, p->bwe.remb_bps / 1000, p->last_loss);
  }
  if (p->probe.running && !target_kbps)
    p->probe.running = false; /* the choice moved on */
  uint64_t target = (uint64_t)target_kbps * 1000;
  /* the last report's loss must be light too: a receiver whose reports stopped covering what
   * we send (quiet since its last trouble, but only because it said nothing new) is not probed
   * on a link it last said was losing */
  if (!p->probe.running && st == DC_PROBE_IDLE && now >= p->probe_hold_until && p->n_video &&
      p->video[0].rtx_pt >= 0 && p->last_loss <= HEAVY_LOSS &&
      dc_probe_may_start(target, dc_bwe_estimate(&p->bwe), p->sent_bps, p->bwe.remb_bps, p->bwe_quiet_since, now)) {
    dc_probe_start(&p->probe, target, p->bwe.congestion_signals, p->sent_total, now);
    p->probe.estimate_at_start = dc_bwe_estimate(&p->bwe);
    p->sending_before_probe = p->sent_bps;
    if (!p->probe_timer) {
      p->probe_timer = true;
      GSource *t = g_timeout_source_new(PROBE_TICK_MS);
      g_source_set_callback(t, probe_tick, room_ref(p), room_unref);
      g_source_attach(t, dc_worker_context(p->worker));
      g_source_unref(t);
    }
  }
}

/* The receiver's worker: the slot (media/router) decides whether the packet goes out and
 * makes it one continuous stream; keep only the header extensions the receiver negotiated
 * and that are true on its leg: abs-send-time, renumbered and restamped. mid/rid would
 * misroute in the receiver; transport-cc numbers belong to the sender's transport. A repair
 * goes out only as RTX (RFC 4588), under an RTX sequence number of its own: sent again as
 * itself it would reuse its SRTP index with a new abs-send-time, i.e. a GCM nonce with other
 * AAD, which gives away the authentication key (media/srtp refuses it anyway). */
static void deliver(const delivery *d, uint8_t *buf, size_t len) {
  slot *s = d->slot;
  if (d->rcv->closed)
    return;
  if (d->stop) {
    dc_slot_want(&s->core, DC_SLOT_NONE, 0);
    g_atomic_pointer_set(&s->playing_source, (gpointer)(gintptr)DC_SLOT_NONE);
    return;
  }
  if (d->repair && s->rtx_pt < 0)
    return;
  if (d->routed && (s->core.want_source != d->src->id || s->core.want_layer != d->want_layer))
    dc_slot_want(&s->core, d->src->id, d->want_layer);
  dc_rtp pkt;
  if (dc_rtp_parse(&pkt, buf, len) != DC_OK)
    return;
  uint8_t map[256] = {0};
  if (d->src_ext.abs_send_time)
    map[d->src_ext.abs_send_time] = s->ext.abs_send_time;
  dc_rtp_ext_remap(buf, &pkt, map);
  uint64_t now = (uint64_t)g_get_monotonic_time();
  int keep_tid = g_atomic_int_get(&s->keep_tid);
  s->core.thin = keep_tid >= 0;
  s->core.keep_tid = (uint8_t)MAX(keep_tid, 0);
  dc_slot_result fwd = d->repair   ? dc_slot_forward_repair(&s->core, d->src->id, d->layer, buf, len, now)
                       : d->filler ? dc_slot_forward_filler(&s->core, d->src->id, d->layer, buf, len, now)
                                   : dc_slot_forward(&s->core, d->src->id, d->layer, buf, len, now);
  if (fwd == DC_SLOT_SEND) {
    len = s->core.out_len; /* a thinned packet is only its header and padding */
    if (d->repair)
      len = dc_rtx_wrap(buf, len, DC_TRANSPORT_BUF - DC_SRTP_MAX_TRAILER, (uint8_t)s->rtx_pt,
                        s->rtx_ssrc, s->rtx_seq++);
    if (len && d->repair && !dc_repair_budget_take(&d->rcv->repair_budget, dc_bwe_estimate(&d->rcv->bwe), len, now)) {
      g_atomic_int_inc(&d->rcv->repairs_refused);
      dc_metrics_add(&dc_metrics.repairs_refused, 1);
      len = 0;
    }
    if (len) { /* stamped with our send time as it leaves the pacer */
      pace_out(d->rcv, buf, len, DC_TRANSPORT_BUF, d->src_ext.abs_send_time ? s->ext.abs_send_time : 0);
      d->rcv->repairs_sent += d->repair;
      dc_metrics_add(&dc_metrics.repairs_sent, d->repair);
    }
  }
  if (d->repair)
    return;
  g_atomic_pointer_set(&s->playing_source, (gpointer)(gintptr)s->core.source);
  g_atomic_int_set(&s->playing_layer, s->core.layer);
  if (dc_slot_needs_keyframe(&s->core) && d->routed)
    room_request_keyframe(d->src, d->want_layer, PLI_INTERVAL_US); /* throttled on the source's worker */
}

/* The receiver's worker, for a delivery posted there: the slot rewrites the packet, so it
 * works on a copy of the shared one. */
static void deliver_posted(void *msg) {
  delivery *d = msg;
  if (d->pkt) {
    uint8_t buf[DC_TRANSPORT_BUF];
    memcpy(buf, d->pkt->data, d->pkt->len);
    deliver(d, buf, d->pkt->len);
    shared_packet_unref(d->pkt);
  } else {
    deliver(d, NULL, 0);
  }
  room_unref(d->src);
  room_release(d->rcv);
}

static void delivery_ahead(const void *msg, unsigned stage) {
  const delivery *d = msg;
  room_prefetch_delivery(d->rcv, d->slot, stage);
}

/* A delivery handed to the receiver's worker, with the references it holds there. */
static void post_delivery(delivery *d, shared_packet *pkt) {
  d->rcv = room_ref(d->rcv);
  d->src = room_ref(d->src);
  d->pkt = pkt ? shared_packet_ref(pkt) : NULL;
  if (room_post(d->rcv, deliver_posted, delivery_ahead, d, sizeof *d))
    return;
  shared_packet_unref(d->pkt);
  room_unref(d->src);
  room_unref(d->rcv);
}

static void forward_delivery(delivery *d, const uint8_t *buf, size_t len, shared_packet **share) {
  if (d->slot->section < 0 || len > DC_TRANSPORT_BUF - DC_SRTP_MAX_TRAILER)
    return;
  if (dc_worker_is_current(d->rcv->worker)) { /* the same worker: no hand-off, only the slot's copy */
    uint8_t copy[DC_TRANSPORT_BUF];
    memcpy(copy, buf, len);
    deliver(d, copy, len);
    return;
  }
  if (!*share)
    *share = shared_packet_new(buf, len);
  post_delivery(d, *share);
}

void video_forward(dc_participant *rcv, dc_participant *src, slot *s, int layer, int want_layer,
                   bool routed, bool repair, const uint8_t *buf, size_t len, shared_packet **share) {
  delivery d = {.rcv = rcv, .src = src, .slot = s, .layer = (int16_t)layer, .want_layer = (int16_t)want_layer,
                .routed = routed, .repair = repair, .src_ext = src->video_ext};
  forward_delivery(&d, buf, len, share);
}

/* Asks the receiver's worker to stop a slot that still plays src (it was turned off). */
static void stop_slot(dc_participant *rcv, dc_participant *src, slot *s) {
  delivery d = {.rcv = rcv, .src = src, .slot = s, .stop = true};
  if (dc_worker_is_current(rcv->worker))
    deliver(&d, NULL, 0);
  else
    post_delivery(&d, NULL);
}

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
  size_t n = dc_rx_stream_nacks(&src->layer_rx[layer], now, retry_us, REPAIR_AGE_US, seqs, DC_NACK_MAX);
  if (!n || !src->nack_upstream)
    return;
  uint8_t buf[DC_TRANSPORT_BUF];
  dc_rtcp_writer w;
  dc_rtcp_writer_init(&w, buf, 1200);
  dc_rtcp_write_nack(&w, src->rtcp_ssrc, src->layer_rx[layer].ssrc, seqs, n);
  if (w.len && !w.overflow && dc_transport_send_rtcp(src->transport, buf, w.len, sizeof buf) == DC_OK)
    dc_metrics_add(&dc_metrics.upstream_nacks, n);
}

/* The source's worker: RED (RFC 2198) from a point. The primary goes to the mixer as its own
 * packet would; the earlier frames it carries fill the gaps its lost packets left (one frame
 * per packet, as WebRTC senders pack it: the k-th copy back had sequence number seq − k). */
static void push_red(dc_participant *src, const dc_rtp *pkt, int level, uint64_t now) {
  dc_red_block blocks[DC_RED_MAX_BLOCKS];
  size_t n;
  if (dc_red_parse(dc_rtp_payload(pkt), pkt->payload_len, blocks, DC_RED_MAX_BLOCKS, &n) != DC_OK ||
      blocks[n - 1].pt != src->audio_pt)
    return;
  dc_rtp primary = *pkt;
  primary.payload_off = (size_t)(blocks[n - 1].data - pkt->data);
  primary.payload_len = blocks[n - 1].len;
  primary.payload_type = (uint8_t)src->audio_pt;
  g_mutex_lock(&src->room->mix_lock);
  if (primary.payload_len)
    dc_mixer_push(src->room->mixer, src->mix_slot, &primary, level, now);
  unsigned recovered = 0;
  for (size_t i = 0; i + 1 < n; i++)
    if (blocks[i].pt == src->audio_pt)
      recovered += dc_mixer_push_recovered(src->room->mixer, src->mix_slot, (uint16_t)(pkt->seq - (n - 1 - i)),
                                           pkt->timestamp - blocks[i].ts_offset, blocks[i].data, blocks[i].len, now);
  g_mutex_unlock(&src->room->mix_lock);
  if (recovered)
    dc_metrics_add(&dc_metrics.red_frames_recovered, recovered);
}

void video_prefetch_source(gpointer user) {
  const dc_participant *src = user;
  __builtin_prefetch(&src->room);
  __builtin_prefetch(&src->observer);
  __builtin_prefetch(&src->audio_pt);
  __builtin_prefetch(&src->audio_rx);
  __builtin_prefetch(&src->uplink);
  __builtin_prefetch(&src->last_heard_us);
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
  for (guint i = 0; i < r->members->len; i++) {
    dc_participant *rcv = g_ptr_array_index(r->members, i);
    for (int k = 0; rcv != src && k < rcv->n_video; k++) {
      slot *s = &rcv->video[k];
      /* routed here, or playing it still: the slot knows whether this layer is what it plays
       * (what it has published may lag its first packet of the source) */
      if (!s->off && (s->source == src->id || (gintptr)g_atomic_pointer_get(&s->playing_source) == src->id)) {
        delivery d = {.rcv = rcv, .src = src, .slot = s, .layer = (int16_t)layer, .filler = true, .src_ext = src->video_ext};
        forward_delivery(&d, buf, len, &share);
      }
    }
  }
  g_rw_lock_reader_unlock(&r->lock);
  shared_packet_unref(share);
}

/* The source's worker. */
void video_on_rtp(gpointer user, uint8_t *buf, size_t len, size_t cap) {
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
    if (src->audio_rx.ssrc != pkt.ssrc)
      dc_rx_stream_init(&src->audio_rx, pkt.ssrc, 48000);
    dc_rx_stream_update(&src->audio_rx, pkt.seq, pkt.timestamp, len, now);
    unsigned step = src->uplink.step;
    if (dc_uplink_audio_packet(&src->uplink, pkt.timestamp, now)) {
      dc_metrics_add(src->uplink.step > step ? &dc_metrics.audio_rate_lowered : &dc_metrics.audio_rate_raised, 1);
      room_tell_audio_rate(src, src->uplink.step ? dc_uplink_audio_rate(&src->uplink) : 0);
    }
    if (g_atomic_int_get(&src->muted) || src->mix_slot < 0)
      return;
    bool voice;
    uint8_t dbov;
    int level = src->audio_ext.audio_level && dc_rtp_audio_level(&pkt, src->audio_ext.audio_level, &voice, &dbov)
                    ? dbov : -1;
    if (pkt.payload_type != src->audio_pt) {
      push_red(src, &pkt, level, now);
      return;
    }
    g_mutex_lock(&src->room->mix_lock);
    dc_mixer_push(src->room->mixer, src->mix_slot, &pkt, level, now);
    g_mutex_unlock(&src->room->mix_lock);
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
  nack_upstream(src, layer, now);
  /* A sender drops its top layers at low resolution or under load: "highest" means of the
   * layers arriving now (seen within the last second). */
  int highest = -1;
  /* Its video comes again after a silence (its uplink was down): its receivers' decoders
   * wait for a key frame, asked for now rather than when their own requests come. */
  if (src->layer_seen_us[layer] && (int64_t)now - src->layer_seen_us[layer] > OUTAGE_GAP_US) {
    g_message("meeting %" G_GINT64_FORMAT " participant %" G_GINT64_FORMAT ": its video is back after %.1f s: "
              "a key frame asked for", src->room->meeting, src->id, (double)((int64_t)now - src->layer_seen_us[layer]) / 1e6);
    room_request_keyframe(src, layer, PLI_INTERVAL_US);
  }
  src->layer_seen_us[layer] = (int64_t)now;
  camera_seen(src);
  for (int i = 0; i < src->n_layers; i++)
    if (src->layer_seen_us[i] && (int64_t)now - src->layer_seen_us[i] < G_USEC_PER_SEC)
      highest = i;
  dc_room *r = src->room;
  shared_packet *share = NULL;
  bool watched = false; /* some slot carries this layer */
  g_rw_lock_reader_lock(&r->lock);
  for (guint i = 0; i < r->members->len; i++) {
    dc_participant *rcv = g_ptr_array_index(r->members, i);
    if (rcv == src)
      continue;
    for (int k = 0; k < rcv->n_video; k++) {
      slot *s = &rcv->video[k];
      bool playing = s->source != 0 &&
                     (gintptr)g_atomic_pointer_get(&s->playing_source) == src->id &&
                     g_atomic_int_get(&s->playing_layer) == layer;
      if (s->off) {
        if (playing)
          stop_slot(rcv, src, s);
        continue;
      }
      int want = s->want_layer == HIGHEST_LAYER || s->want_layer > highest ? highest : s->want_layer;
      bool routed = s->source == src->id && layer == want;
      /* until the slot has switched, what it plays now keeps flowing */
      if (routed || playing)
        video_forward(rcv, src, s, layer, want, s->source == src->id, false, buf, len, &share);
      watched |= routed || playing;
    }
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

/* ---- housekeeping (each participant's worker, every TICK_MS) ---- */

/* Layer rates for the layer choice; the estimate for it, the probe and the pacer's rate; and
 * each second our reports (feedback.c). */
gboolean video_tick(gpointer data) {
  dc_participant *p = data;
  if (p->closed)
    return G_SOURCE_CONTINUE; /* the leave's close on this worker stops it (p->tick) */
  uint64_t now = (uint64_t)g_get_monotonic_time();
  uint64_t elapsed = p->last_tick_us ? now - (uint64_t)p->last_tick_us : TICK_MS * 1000;
  p->last_tick_us = (int64_t)now;
  for (int i = 0; i < p->n_layers; i++) {
    /* smoothed over about four seconds: a key frame is several times an inter frame, and the
     * sender's rate control pays for it in the frames after (over one second, a 60 kbit/s
     * layer measured up to 250 kbit/s at each key frame, and a thin link's main slot was
     * paused for it). A layer that starts is taken at its first measure (see also
     * dc_source_layer_cost), one that stops halves each tick. */
    gint now_kbps = (gint)(p->layer_bytes[i] * 8 * 1000 / MAX(elapsed, 1));
    gint was = g_atomic_int_get(&p->layer_kbps[i]);
    g_atomic_int_set(&p->layer_kbps[i], !was ? now_kbps : !now_kbps ? was / 2 : (7 * was + now_kbps + 7) / 8);
    p->layer_bytes[i] = 0;
  }
  p->sent_bps = (p->sent_bps + p->sent_bytes * 8 * 1000000 / MAX(elapsed, 1)) / 2;
  if (p->sent_bps >= RED_DEEP_CARRIED_BPS && dc_loss_reports_worst(&p->audio_losses, now, RED_HOLD_US) <= RED_DEEP_CARRIED_LOSS)
    p->carried_us = now; /* room for two audio copies (red_deep_allowed) */
  uint64_t recv_bps = p->recv_bytes * 8 * 1000000 / MAX(elapsed, 1);
  p->recv_bytes = 0;
  g_atomic_int_set(&p->kbps_up_pub, (g_atomic_int_get(&p->kbps_up_pub) + (gint)(recv_bps / 1000)) / 2);
  g_atomic_int_set(&p->kbps_down_pub, (gint)(p->sent_bps / 1000));
  p->sent_total += p->sent_bytes;
  p->sent_bytes = 0;
  p->paced_bps = (p->paced_bps + p->paced_bytes * 8 * 1000000 / MAX(elapsed, 1)) / 2;
  p->paced_bytes = 0;
  if (p->n_video)
    video_probe_step(p, now);
  if (p->pacer) /* see PACE_FACTOR; a probe's padding must get out at its rate */
    dc_pacer_set_rate(p->pacer, (uint64_t)(PACE_FACTOR * (double)MAX(MAX(dc_bwe_estimate(&p->bwe),
                                                                           p->paced_bps + dc_audio_down_bps(p)),
                                                                       p->probe.running ? p->probe.target_bps : 0)), now);
  g_atomic_int_set(&p->estimate_kbps, (gint)(dc_bwe_estimate(&p->bwe) / 1000));
  p->repairs = 0;
  if (++p->ticks % (1000 / TICK_MS))
    return G_SOURCE_CONTINUE;
  if (p->ticks % (5000 / TICK_MS) == 0)
    g_debug("meeting %" G_GINT64_FORMAT " participant %" G_GINT64_FORMAT ": estimate %" G_GUINT64_FORMAT
            " kbit/s, sending %" G_GUINT64_FORMAT " kbit/s, last REMB %" G_GUINT64_FORMAT " kbit/s, "
            "last loss %u/256, congestion signals %u; repairs sent to it %d, refused %d; "
            "pacer: %zu B queued, %" G_GUINT64_FORMAT " dropped; main slot: layer %d%s, temporal layers kept %d, "
            "probe padding %" G_GUINT64_FORMAT " B; as a source: layers %d/%d/%d kbit/s, its own padding %" G_GUINT64_FORMAT " B; "
            "its mix: worst loss lately %u/256, %u copies reaching %u frames back (its wait: %d ms, 0: not said); "
            "its audio's loss: %u gaps of %u packets%s",
            p->room->meeting, p->id, dc_bwe_estimate(&p->bwe) / 1000, p->sent_bps / 1000,
            p->bwe.remb_bps / 1000, p->last_loss, p->bwe.congestion_signals, p->repairs_sent,
            g_atomic_int_get(&p->repairs_refused), p->pacer ? dc_pacer_get_stats(p->pacer).queued_bytes : 0,
            p->pacer ? dc_pacer_get_stats(p->pacer).dropped : 0, p->n_video ? p->video[0].core.layer : -1,
            p->n_video && p->video[0].off ? " (off)" : "", p->n_video ? g_atomic_int_get(&p->video[0].keep_tid) : -1,
            p->probe_bytes, g_atomic_int_get(&p->layer_kbps[0]), g_atomic_int_get(&p->layer_kbps[1]),
            g_atomic_int_get(&p->layer_kbps[2]), p->layer_padding_bytes,
            dc_loss_reports_worst(&p->audio_losses, now, RED_HOLD_US), p->red_depth_sent,
            dc_mixer_red_reach_policy(p->tier, p->red_depth_sent, dc_rx_stream_loses_in_runs(&p->audio_rx),
                                      (unsigned)g_atomic_int_get(&p->audio_wait_ms)),
            g_atomic_int_get(&p->audio_wait_ms), p->audio_rx.loss_gaps,
            p->audio_rx.loss_gap_packets, red_deep_allowed(p, now) ? " (in runs, room for two copies)" : "");
  feedback_report(p, now);
  return G_SOURCE_CONTINUE;
}
