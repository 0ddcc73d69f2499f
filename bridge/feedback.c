/* feedback.c — RTCP between the bridge and each participant, on its worker (RFC 3550 §6,
 * RFC 4585 feedback, RFC 5104 FIR, REMB): what a receiver tells us (reports that move its
 * estimate and its mix's redundancy, NACKs served from the source's cache, key-frame
 * requests passed to the slot's source, REMB) and what we tell each participant once a
 * second (a sender report for its mix, receiver reports on what it sends, and a REMB that
 * holds its uplink to what its link carries). The video path itself is source.c and
 * video.c; see room_private.h. Left out: XR (RFC 3611) and transport-wide feedback. */
#include "bridge/room_private.h"

/* ---- repairs for receivers ---- */

typedef struct {
  dc_participant *rcv, *src;
  slot *slot;
  int layer;
  uint32_t in_ssrc;
  size_t n;
  uint16_t seqs[64];
} repair_request;

static void free_repair(gpointer data) {
  repair_request *q = data;
  room_unref(q->rcv);
  room_unref(q->src);
  g_free(q);
}

/* The source's worker: what its cache holds goes back to the receiver's worker, through the
 * slot, as any packet of the slot does. */
static gboolean serve_repair(gpointer data) {
  repair_request *q = data;
  if (!q->src->cache)
    return G_SOURCE_REMOVE;
  uint64_t now = (uint64_t)g_get_monotonic_time();
  uint64_t max_age = dc_repair_age_us(g_atomic_int_get(&q->rcv->rtt_ms_pub));
  uint8_t buf[DC_TRANSPORT_BUF];
  for (size_t i = 0; i < q->n; i++) {
    size_t len = dc_packet_cache_get_within(q->src->cache, q->in_ssrc, q->seqs[i], now, max_age, buf, sizeof buf);
    shared_packet *share = NULL;
    if (len) {
      video_forward(q->rcv, q->src, q->slot, q->layer, q->layer, false, true, buf, len, &share);
    } else {
      g_atomic_int_inc(&q->rcv->repairs_missed);
      dc_metrics_add(&dc_metrics.repairs_refused, 1);
    }
    shared_packet_unref(share);
  }
  return G_SOURCE_REMOVE;
}

/* The receiver's worker: a NACK for one of its slots. Sequence numbers are the slot's; the
 * slot knows which packets of its source they were. Bounded per tick, so a receiver that
 * NACKs everything (a storm, or a broken client) costs a fixed amount. */
static void on_nack(dc_participant *rcv, const dc_rtcp_fb *fb) {
  uint16_t seqs[256];
  size_t n = dc_rtcp_nack_expand(fb, seqs, G_N_ELEMENTS(seqs));
  dc_metrics_add(&dc_metrics.nacks_received, n);
  dc_room *r = rcv->room;
  for (int k = 0; k < rcv->n_video; k++) {
    slot *s = &rcv->video[k];
    if (s->ssrc != fb->media_ssrc || s->core.source == DC_SLOT_NONE || s->rtx_pt < 0)
      continue; /* repairs go only as RTX: see deliver() */
    repair_request *q = g_new0(repair_request, 1);
    for (size_t i = 0; i < n && q->n < G_N_ELEMENTS(q->seqs); i++) {
      if (rcv->repairs >= REPAIRS_PER_TICK) {
        g_atomic_int_inc(&rcv->repairs_refused);
        dc_metrics_add(&dc_metrics.repairs_refused, n - i);
        break;
      }
      if (dc_slot_source_seq(&s->core, seqs[i], &q->seqs[q->n])) {
        q->n++;
        rcv->repairs++;
      }
    }
    g_rw_lock_reader_lock(&r->lock);
    dc_participant *src = q->n ? room_find(r, s->core.source) : NULL;
    if (src) {
      q->rcv = room_ref(rcv);
      q->src = room_ref(src);
      q->slot = s;
      q->layer = s->core.layer;
      q->in_ssrc = s->core.in_ssrc;
    }
    g_rw_lock_reader_unlock(&r->lock);
    if (src)
      dc_worker_invoke(src->worker, serve_repair, q, free_repair);
    else
      g_free(q);
  }
}

/* NTP time (RFC 3550 §4): seconds since 1900 in the high 32 bits, the fraction below. */
static uint64_t ntp_now(void) {
  int64_t us = g_get_real_time();
  uint64_t secs = (uint64_t)(us / 1000000) + 2208988800u;
  return secs << 32 | (((uint64_t)(us % 1000000) << 32) / 1000000);
}

/* Whether its link loses in runs (a radio link's fades): as its reports of our mix spread
 * their losses, or as its own audio loses on the way in (what a point that speaks shows
 * first; a quiet one's shows nothing: dc_loss_reports_in_runs). */
bool link_loses_in_runs(const dc_participant *rcv) {
  return dc_loss_reports_in_runs(&rcv->audio_losses) || dc_rx_stream_loses_in_runs(&rcv->audio_rx);
}

/* Where its link loses in runs, a second copy is worth its rate, where the link carried
 * RED_DEEP_CARRIED_BPS lately (video.c). */
bool red_deep_allowed(const dc_participant *rcv, uint64_t now) {
  return rcv->carried_us && now - rcv->carried_us <= RED_HOLD_US && link_loses_in_runs(rcv);
}

/* A round trip to it, smoothed a little: one measure behind a queue is not the link. */
static void rtt_sample(dc_participant *p, gint ms) {
  gint was = g_atomic_int_get(&p->rtt_ms_pub);
  g_atomic_int_set(&p->rtt_ms_pub, was < 0 ? ms : (3 * was + ms + 2) / 4);
}

/* RFC 3550 §6.4.1: the round trip is now less the time our sender report was sent (LSR)
 * less the time the receiver held it (DLSR), in 1/65536 s. */
static void publish_rtt(dc_participant *rcv, const dc_rtcp_report_block *blk) {
  gint ms = dc_rtcp_rtt_ms((uint32_t)(ntp_now() >> 16), blk, 10000);
  if (ms >= 0)
    rtt_sample(rcv, ms);
}

/* Its worker: its transport's own check, as the path starts and every few seconds after
 * (transport.h). The first comes a round trip after the handshake: a browser's first report
 * on our audio came 5-8 s later, and until then the bridge asked for its camera's lost packets
 * again 100 ms apart and gave up on them before its answer could come (a highland point's:
 * 0.5-0.9 s), then asked for a key frame. */
void feedback_on_rtt(gpointer user, unsigned ms) {
  rtt_sample(user, (gint)MIN(ms, 10000u));
}

/* The receiver's worker: its reports about our streams feed its bandwidth estimate. The
 * worst loss among our video streams counts (the mix alone when no video goes to it), and
 * only what its own leg lost: the gaps a source's uplink left are not its doing
 * (media/router dc_leg_loss). */
static void on_report(dc_participant *rcv, const dc_rtcp_report *rep, uint64_t now) {
  int worst = -1, audio = -1;
  bool outage = rcv->skip_loss_report; /* see feedback_heard_from: the leg-loss state follows, no more */
  rcv->skip_loss_report = false;
  for (int b = 0; b < rep->n_blocks; b++) {
    const dc_rtcp_report_block *blk = &rep->blocks[b];
    for (int k = 0; k < rcv->n_video; k++) {
      slot *s = &rcv->video[k];
      if (blk->ssrc != s->ssrc || !s->core.started)
        continue;
      int leg = dc_leg_loss_update(&s->leg, &s->core, blk->fraction_lost, blk->cumulative_lost,
                                   blk->ext_highest_seq); /* once: MAX() would call it twice */
      worst = MAX(worst, leg);
    }
    if (blk->ssrc == rcv->audio.ssrc && blk->lsr) /* it answers one of our sender reports */
      publish_rtt(rcv, blk);
    /* the worst loss of its last reports decides the mix's redundancy (audio.c); a block
     * over no new packet says nothing (dc_loss_reports_add) */
    if (blk->ssrc == rcv->audio.ssrc && outage) /* its losses are no run: the spread skips them */
      dc_loss_reports_follow(&rcv->audio_losses, blk->ext_highest_seq, blk->cumulative_lost);
    if (blk->ssrc == rcv->audio.ssrc && !outage &&
        dc_loss_reports_add(&rcv->audio_losses, blk->fraction_lost, blk->ext_highest_seq, blk->cumulative_lost,
                            now)) {
      audio = blk->fraction_lost; /* the mix: every packet is ours, no gap is a source's */
      if (blk->cumulative_lost > rcv->lost_down_seen) {
        dc_metrics_add(&dc_metrics.lost_down, (uint64_t)(blk->cumulative_lost - rcv->lost_down_seen));
        rcv->lost_down_seen = blk->cumulative_lost;
      }
      g_atomic_int_set(&rcv->audio_loss_now_pub, dc_loss_reports_recent(&rcv->audio_losses));
      g_atomic_int_set(&rcv->deep_red_pub, red_deep_allowed(rcv, now));
      g_atomic_int_set(&rcv->audio_loss_pub, (gint)dc_loss_reports_worst(&rcv->audio_losses, now, RED_HOLD_US));
    }
  }
  if (worst < 0)
    worst = audio;
  if (worst >= 0 && !outage) {
    rcv->last_loss = (unsigned)worst;
    g_atomic_int_set(&rcv->loss_down_pub, worst);
    dc_probe_on_report(&rcv->probe, now);
    if (!rcv->bwe_quiet_since || worst > HEAVY_LOSS || rcv->bwe.congestion_signals != rcv->signals_seen)
      rcv->bwe_quiet_since = now; /* from the first report, or since the last trouble */
    rcv->signals_seen = rcv->bwe.congestion_signals;
    /* the estimate's growth is bounded by what is sent where probes can lift it (RTX on the
     * main slot); a receiver without RTX moves up by moving up, behind the upgrade guard */
    bool probes = rcv->n_video && rcv->video[0].rtx_pt >= 0;
    dc_bwe_on_loss(&rcv->bwe, (uint8_t)worst, probes ? rcv->sent_bps : 0, now);
  }
}

/* The receiver's worker: the sources of its slots (those with our SSRC ssrc; 0: all) are
 * asked for a key frame of the layer each plays (this worker's to read; a switch asks for
 * its own), at most every interval_us. Found under the room's lock, asked after it: the ask
 * runs at once when the source shares this worker, and nothing is called out under a lock. */
static void ask_slot_sources(dc_participant *rcv, uint32_t ssrc, int64_t interval_us) {
  dc_participant *srcs[MAX_SLOTS];
  int layers[MAX_SLOTS], n = 0;
  dc_room *r = rcv->room;
  g_rw_lock_reader_lock(&r->lock);
  for (int k = 0; k < rcv->n_video && n < MAX_SLOTS; k++) {
    slot *s = &rcv->video[k];
    dc_participant *src = !ssrc || s->ssrc == ssrc ? room_find(r, s->source) : NULL;
    if (!src)
      continue;
    srcs[n] = room_ref(src);
    layers[n++] = s->core.source == src->id ? s->core.layer : -1;
  }
  g_rw_lock_reader_unlock(&r->lock);
  for (int i = 0; i < n; i++) {
    room_request_keyframe(srcs[i], layers[i], interval_us);
    room_unref(srcs[i]);
  }
}

uint64_t dc_heard_packet(dc_heard *h, uint64_t now) {
  uint64_t silent = h->last_us ? now - h->last_us : 0;
  uint64_t limit = h->pace_pps && h->pace_pps < SPARSE_PPS ? SPARSE_OUTAGE_GAP_US : OUTAGE_GAP_US;
  if (!h->window_us) {
    h->window_us = now;
  } else if (now - h->window_us >= G_USEC_PER_SEC) { /* a window that held an outage says so too */
    h->pace_pps = (unsigned)((h->window_n * G_USEC_PER_SEC + (now - h->window_us) / 2) / (now - h->window_us));
    h->pace_pps = MAX(h->pace_pps, 1u);
    h->window_us = now;
    h->window_n = 0;
  }
  h->window_n++;
  h->last_us = now;
  return silent > limit ? silent : 0;
}

/* The participant's worker, for each packet from it: it is heard again after a silence
 * longer than its pace allows (dc_heard_packet), so its link was down. Its decoder waits for
 * a key frame: each slot's source is asked now rather than when its own request comes,
 * seconds later, over a thin link (after a 6 s outage the point's picture came back 4.7 s
 * after the link, now 1.9 s). And its next report tells the outage's loss, which is no news
 * of congestion: cut for it, the estimate thinned or paused the picture that was just coming
 * back. */
void feedback_heard_from(dc_participant *rcv, uint64_t now) {
  uint64_t silent = dc_heard_packet(&rcv->heard, now);
  if (!silent)
    return;
  g_message("meeting %" G_GINT64_FORMAT " participant %" G_GINT64_FORMAT ": heard again after %.1f s "
            "(a link outage)%s", rcv->room->meeting, rcv->id, (double)silent / 1e6,
            rcv->n_video ? ": key frames asked for its slots" : "");
  rcv->skip_loss_report = true;
  ask_slot_sources(rcv, 0, PLI_INTERVAL_US);
}

/* The source's worker: its sender reports, for our reports' LSR/DLSR. */
static void on_sender_report(dc_participant *src, const dc_rtcp_report *rep, uint64_t now) {
  for (int i = 0; i < src->n_layers; i++)
    if (src->layer_rx[i].started && src->layer_rx[i].ssrc == rep->ssrc)
      dc_rx_stream_on_sr(&src->layer_rx[i], rep->ntp, now);
  if (src->audio_rx.started && src->audio_rx.ssrc == rep->ssrc)
    dc_rx_stream_on_sr(&src->audio_rx, rep->ntp, now);
}

/* The participant's worker: RTCP from it, as a receiver (feedback on our streams: key-frame
 * requests go to the slot's source, NACKs are served from that source's cache, reports and
 * REMB make its estimate) and as a sender (its SRs). Feedback naming an SSRC that is not one
 * of ours is ignored. */
void feedback_on_rtcp(gpointer user, uint8_t *buf, size_t len) {
  dc_participant *rcv = user;
  dc_rtcp_iter it;
  dc_rtcp_pkt pkt;
  if (dc_rtcp_validate(buf, len) != DC_OK)
    return;
  uint64_t now = (uint64_t)g_get_monotonic_time();
  feedback_heard_from(rcv, now);
  dc_rtcp_iter_init(&it, buf, len);
  while (dc_rtcp_next(&it, &pkt) == DC_OK) {
    dc_rtcp_kind kind = dc_rtcp_kind_of(&pkt);
    dc_rtcp_fb fb;
    dc_rtcp_report rep;
    dc_rtcp_remb remb;
    if ((kind == DC_RTCP_SR || kind == DC_RTCP_RR) && dc_rtcp_parse_report(&pkt, &rep) == DC_OK) {
      if (rep.is_sr)
        on_sender_report(rcv, &rep, now);
      on_report(rcv, &rep, now);
      continue;
    }
    if (dc_rtcp_parse_fb(&pkt, &fb) != DC_OK)
      continue;
    if (kind == DC_RTCP_NACK) {
      on_nack(rcv, &fb);
      continue;
    }
    if (kind == DC_RTCP_REMB && dc_rtcp_parse_remb(&fb, &remb) == DC_OK) {
      /* libwebrtc's REMB is of the streams with abs-send-time, the video: our mix has none, so
       * its rate is added before the REMB is set against all we send and taken for the link.
       * Set against the whole, a highland point's REMB read its RED audio (a third of what it
       * got) as congestion, its estimate fell, its slot kept half the frames, and the REMB,
       * at most 1.5 times the video it got, stayed down with it: 3-4 fps for whole runs. */
      uint64_t audio = dc_rtcp_remb_covers(&remb, rcv->audio.ssrc) ? 0 : dc_audio_down_bps(rcv);
      /* saturated: a REMB of UINT64_MAX (an exponent past 45) plus the audio wrapped to a few
       * kbit/s, which cut the sender's own estimate as congestion */
      uint64_t link_bps = remb.bitrate_bps > UINT64_MAX - audio ? UINT64_MAX : remb.bitrate_bps + audio;
      dc_bwe_on_remb(&rcv->bwe, link_bps, rcv->sent_bps, now);
      /* a probe that made a queue stops now, not at the next tick: its padding is what fills it */
      dc_probe_on_remb(&rcv->probe, remb.bitrate_bps);
      if (rcv->probe.running && (rcv->probe.remb_fell || rcv->bwe.congestion_signals != rcv->probe.signals_at_start))
        video_probe_step(rcv, now);
      continue;
    }
    if (kind != DC_RTCP_PLI && kind != DC_RTCP_FIR)
      continue;
    uint32_t media = fb.media_ssrc;
    if (kind == DC_RTCP_FIR && dc_rtcp_fir_entries(&fb)) {
      uint8_t n;
      dc_rtcp_fir_entry(&fb, 0, &media, &n);
    }
    ask_slot_sources(rcv, media, RECEIVER_PLI_INTERVAL_US);
  }
}

/* ---- our reports (each participant's worker, once a second from video_tick) ---- */

/* Each second, a sender report for the mix we send it (RFC 3550 §6.4.1): its receiver
 * reports then carry LSR and DLSR, from which on_report has the round trip. The RTP time is
 * the last packet's, moved on by the time since at 48 kHz. */
static void send_audio_sr(dc_participant *p, uint64_t now) {
  slot *s = &p->audio;
  if (!s->started || s->section < 0)
    return;
  dc_rtcp_report sr = {.ssrc = s->ssrc, .ntp = ntp_now(), .packet_count = s->sent_packets,
                       .octet_count = s->sent_octets,
                       .rtp_ts = s->last_ts + (uint32_t)((now - s->ts_at_us) * 48 / 1000)};
  uint8_t buf[DC_TRANSPORT_BUF];
  dc_rtcp_writer w;
  dc_rtcp_writer_init(&w, buf, 1200);
  dc_rtcp_write_sr(&w, &sr);
  if (w.len && !w.overflow)
    dc_transport_send_rtcp(p->transport, buf, w.len, sizeof buf);
}

/* A block for s since its last, and what the interval should have brought and lost. */
static void report_stream(dc_rx_stream *s, uint64_t now, dc_rtcp_report_block *block, uint64_t *expected,
                          uint64_t *lost) {
  uint64_t expected_before = s->expected_prior, received_before = s->received_prior;
  dc_rx_stream_report(s, now, block);
  *expected = s->expected_prior - expected_before;
  uint64_t received = s->received_prior - received_before;
  *lost = *expected > received ? *expected - received : 0;
}

/* A sender report for its mix; receiver reports on what it sends (RFC 3550 §6.4.2), with a
 * REMB capping its send rate at what its uplink carries (Chrome's loss controller takes it
 * from there). */
void feedback_report(dc_participant *p, uint64_t now) {
  send_audio_sr(p, now);
  dc_rtcp_report rr = {.ssrc = p->rtcp_ssrc};
  uint64_t up_expected = 0, up_lost = 0; /* of what was measured, for the live view */
  for (int i = 0; i < p->n_layers && rr.n_blocks < DC_RTCP_MAX_BLOCKS; i++)
    if (p->layer_rx[i].started) {
      uint64_t e, l;
      report_stream(&p->layer_rx[i], now, &rr.blocks[rr.n_blocks++], &e, &l);
      up_expected += e, up_lost += l;
    }
  int n_video_blocks = rr.n_blocks;
  /* Its audio's loss is measured only where most of the interval's numbers came: the kernel's
   * filter drops a quiet point's silence (silence_filter.h), and a number missing beside
   * silence counts as received, so a listening page's block says 0 % whatever its link
   * loses (the link lab's radio: 0 % shown while it lost 10 %). */
  bool audio_measured = false;
  if (p->audio_rx.started && rr.n_blocks < DC_RTCP_MAX_BLOCKS) {
    uint64_t expected, lost;
    report_stream(&p->audio_rx, now, &rr.blocks[rr.n_blocks++], &expected, &lost);
    uint64_t skipped = p->audio_rx.skipped - p->audio_skipped_reported;
    p->audio_skipped_reported = p->audio_rx.skipped;
    audio_measured = expected > 0 && skipped * 2 < expected;
    if (audio_measured)
      up_expected += expected, up_lost += lost;
  }
  if (!rr.n_blocks)
    return;
  int64_t lost = 0;
  for (int b = 0; b < rr.n_blocks; b++)
    lost += rr.blocks[b].cumulative_lost;
  if (lost > p->lost_up_seen) /* duplicates count against it: only growth is news */
    dc_metrics_add(&dc_metrics.lost_up, (uint64_t)(lost - p->lost_up_seen));
  p->lost_up_seen = MAX(p->lost_up_seen, lost);
  uint8_t buf[DC_TRANSPORT_BUF];
  dc_rtcp_writer w;
  dc_rtcp_writer_init(&w, buf, 1200);
  dc_rtcp_write_rr(&w, &rr);
  uint32_t ssrcs[DC_SDP_MAX_LAYERS];
  size_t n = 0;
  for (int i = 0; i < p->n_layers; i++)
    if (p->layer_rx[i].started)
      ssrcs[n++] = p->layer_rx[i].ssrc;
  /* The source's uplink: the loss our reports tell it moves an estimate of what the uplink
   * carries (GCC's loss controller, as for a receiver), and the REMB caps its video to that
   * less its audio (a browser counts only its video against REMB). */
  uint8_t worst_up = 0;
  for (int b = 0; b < rr.n_blocks; b++)
    worst_up = MAX(worst_up, rr.blocks[b].fraction_lost);
  /* the live view and attendance: over enough of its packets to mean something, and unknown
   * (-1), not 0 %, where nothing it sent was measured */
  g_atomic_int_set(&p->loss_up_pub,
                   dc_uplink_loss_interval(&p->uplink_loss, n_video_blocks || audio_measured, up_expected, up_lost));
  dc_bwe_on_loss(&p->up_bwe, worst_up, 0, now); /* its browser sends up to our REMB: no cap here */
  /* and the queue its camera's packets show (media/uplink_video.h): the lower wins */
  uint64_t came_bps = p->reported_us && now > p->reported_us ? p->came_bytes * 8 * 1000000 / (now - p->reported_us) : 0;
  p->came_bytes = 0;
  p->reported_us = now;
  unsigned cuts = p->up_queue.cuts;
  uint64_t queue_cap = dc_uplink_video_estimate(&p->up_queue, came_bps, now);
  if (p->up_queue.cuts != cuts) {
    dc_metrics_add(&dc_metrics.uplink_video_cuts, 1);
    g_debug("meeting %" G_GINT64_FORMAT " participant %" G_GINT64_FORMAT ": its uplink's queue stood at %" G_GINT64_FORMAT
            " ms: its send rate cut to %" G_GUINT64_FORMAT " kbit/s (%" G_GUINT64_FORMAT " came)",
            p->room->meeting, p->id, p->up_queue.queue_us / 1000, queue_cap / 1000, came_bps / 1000);
  }
  uint64_t up = dc_bwe_estimate(&p->up_bwe), audio = dc_audio_up_bps(p);
  if (queue_cap && queue_cap < up)
    up = queue_cap;
  if (n && p->remb_upstream)
    dc_rtcp_write_remb(&w, p->rtcp_ssrc, MAX(up > audio ? up - audio : 0, BWE_FLOOR_BPS), ssrcs, n);
  if (w.len && !w.overflow)
    dc_transport_send_rtcp(p->transport, buf, w.len, sizeof buf);
}
