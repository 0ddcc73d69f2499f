/* video.c — the video path's receiving end on the media workers: a packet handed to a
 * receiver's slot (its worker) and out through its pacer, key-frame requests to sources,
 * probing each receiver's link, and each participant's housekeeping tick. A source's packets
 * as they come in are source.c's; RTCP both ways is feedback.c. See room.h (what it promises)
 * and room_private.h. */
#include "bridge/room_private.h"

#include <string.h>

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

/* The receiver's pacer's rate now (media/pacer dc_pace_rate_bps, PACE_FACTOR). */
static uint64_t pace_rate_bps(const dc_participant *rcv) {
  return dc_pace_rate_bps(PACE_FACTOR, dc_bwe_estimate(&rcv->bwe), rcv->bwe.remb_bps,
                          rcv->paced_bps + dc_audio_down_bps(rcv), rcv->probe.running ? rcv->probe.target_bps : 0);
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
static void pace_out(dc_participant *rcv, uint8_t *buf, size_t len, size_t cap, uint8_t ast_id, bool repair) {
  uint64_t now = (uint64_t)g_get_monotonic_time();
  if (!rcv->pacer) {
    rcv->pacer = dc_pacer_new(pacer_bytes[rcv->tier]);
    dc_pacer_set_rate(rcv->pacer, pace_rate_bps(rcv), now);
  }
  if (dc_pacer_admit(rcv->pacer, len + 1, !repair, now)) {
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

/* A highland receiver's audio packet left at now and the next comes period_us later: its video
 * keeps the link clear for it (media/pacer dc_pacer_keep_clear), and what waited for this beat
 * goes now. */
void pace_after_audio(dc_participant *rcv, uint64_t period_us, uint64_t now) {
  if (!rcv->pacer || rcv->tier != DC_TIER_HIGHLAND)
    return;
  uint64_t est = dc_bwe_estimate(&rcv->bwe), remb = rcv->bwe.remb_bps;
  dc_pacer_keep_clear(rcv->pacer, now, period_us, remb && remb < est ? remb : est);
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
    if (!len || !dc_pacer_admit(rcv->pacer, len + 1, true, now))
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
  /* the layer choice asks for up to twice the estimate; the receiver's REMB may say less */
  target = dc_probe_within_reach(target, dc_bwe_estimate(&p->bwe), p->bwe.remb_bps, p->bwe.ceiling_bps);
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
      pace_out(d->rcv, buf, len, DC_TRANSPORT_BUF, d->src_ext.abs_send_time ? s->ext.abs_send_time : 0, d->repair);
      if (d->repair) { /* not an add of 0 for every packet: each took a shared cache line */
        d->rcv->repairs_sent++;
        dc_metrics_add(&dc_metrics.repairs_sent, 1);
      }
    }
  }
  if (d->repair)
    return;
  /* Written only when it changes: the sources' workers read it for every packet they route,
   * and a store for each packet forwarded (a full barrier: GLib's are sequentially consistent)
   * took the line from them each time (~2.5 % of the bridge's samples with three cameras; the
   * misses then show elsewhere, and the CPU measured moved within its noise). */
  if ((gintptr)g_atomic_pointer_get(&s->playing_source) != s->core.source)
    g_atomic_pointer_set(&s->playing_source, (gpointer)(gintptr)s->core.source);
  if (g_atomic_int_get(&s->playing_layer) != s->core.layer)
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

void video_forward_filler(dc_participant *rcv, dc_participant *src, slot *s, int layer, const uint8_t *buf,
                          size_t len, shared_packet **share) {
  delivery d = {.rcv = rcv, .src = src, .slot = s, .layer = (int16_t)layer, .filler = true, .src_ext = src->video_ext};
  forward_delivery(&d, buf, len, share);
}

void video_stop_slot(dc_participant *rcv, dc_participant *src, slot *s) {
  delivery d = {.rcv = rcv, .src = src, .slot = s, .stop = true};
  if (dc_worker_is_current(rcv->worker))
    deliver(&d, NULL, 0);
  else
    post_delivery(&d, NULL);
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
  p->came_bytes += p->recv_bytes;
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
    dc_pacer_set_rate(p->pacer, pace_rate_bps(p), now);
  g_atomic_int_set(&p->estimate_kbps, (gint)(dc_bwe_estimate(&p->bwe) / 1000));
  p->repairs = 0;
  if (++p->ticks % (1000 / TICK_MS))
    return G_SOURCE_CONTINUE;
  if (p->ticks % (5000 / TICK_MS) == 0)
    g_debug("meeting %" G_GINT64_FORMAT " participant %" G_GINT64_FORMAT ": estimate %" G_GUINT64_FORMAT
            " kbit/s, sending %" G_GUINT64_FORMAT " kbit/s, last REMB %" G_GUINT64_FORMAT " kbit/s, "
            "last loss %u/256, congestion signals %u; repairs sent to it %d, refused %d, not in the cache %d (aged out, or never came); "
            "pacer: %zu B queued, %" G_GUINT64_FORMAT " dropped; main slot: layer %d%s, temporal layers kept %d, "
            "probe padding %" G_GUINT64_FORMAT " B; as a source: layers %d/%d/%d kbit/s, its own padding %" G_GUINT64_FORMAT " B, "
            "its uplink's queue %" G_GINT64_FORMAT " ms (-1: not measured), capped for it at %" G_GUINT64_FORMAT " kbit/s (0: not); "
            "its mix: worst loss lately %u/256, %u copies reaching %u frames back (its wait: %d ms, 0: not said); "
            "its audio's loss: %u gaps of %u packets; its reports' losses %s%s",
            p->room->meeting, p->id, dc_bwe_estimate(&p->bwe) / 1000, p->sent_bps / 1000,
            p->bwe.remb_bps / 1000, p->last_loss, p->bwe.congestion_signals, p->repairs_sent,
            g_atomic_int_get(&p->repairs_refused), g_atomic_int_get(&p->repairs_missed), p->pacer ? dc_pacer_get_stats(p->pacer).queued_bytes : 0,
            p->pacer ? dc_pacer_get_stats(p->pacer).dropped : 0, p->n_video ? p->video[0].core.layer : -1,
            p->n_video && p->video[0].off ? " (off)" : "", p->n_video ? g_atomic_int_get(&p->video[0].keep_tid) : -1,
            p->probe_bytes, g_atomic_int_get(&p->layer_kbps[0]), g_atomic_int_get(&p->layer_kbps[1]),
            g_atomic_int_get(&p->layer_kbps[2]), p->layer_padding_bytes,
            p->up_queue.queue_us < 0 ? -1 : p->up_queue.queue_us / 1000, p->up_queue.estimate_bps / 1000,
            dc_loss_reports_worst(&p->audio_losses, now, RED_HOLD_US), p->red_depth_sent,
            dc_mixer_red_reach_policy(p->tier, p->red_depth_sent, link_loses_in_runs(p),
                                      (unsigned)g_atomic_int_get(&p->audio_wait_ms)),
            g_atomic_int_get(&p->audio_wait_ms), p->audio_rx.loss_gaps,
            p->audio_rx.loss_gap_packets, dc_loss_reports_in_runs(&p->audio_losses) ? "in runs" : "alone, or too few to say",
            red_deep_allowed(p, now) ? " (in runs, room for two copies)" : "");
  feedback_report(p, now);
  return G_SOURCE_CONTINUE;
}
