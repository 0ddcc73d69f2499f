/* audio.c — the audio path, in one place: a point's audio as it comes in (its worker: to its
 * room's mixer, with the earlier frames a RED packet (RFC 2198) carries filling what its
 * uplink lost, and its uplink's rate followed), and the mix clock: every room's mixer ticked
 * every 20 ms on absolute deadlines, each receiver's mix handed to its worker as one
 * continuous RTP stream (with RED copies where its link loses), speaker changes posted to the
 * main thread. See room.h and room_private.h. */
#include "bridge/room_private.h"

#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <time.h>

/* ---- a point's audio in (its worker) ---- */

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

/* Every RTP packet of the point's audio (Opus, or RED around it). */
void audio_in(dc_participant *src, const dc_rtp *pkt, size_t len, uint64_t now) {
  bool voice;
  uint8_t dbov;
  int level = src->audio_ext.audio_level && dc_rtp_audio_level(pkt, src->audio_ext.audio_level, &voice, &dbov)
                  ? dbov : -1;
  if (src->audio_rx.ssrc != pkt->ssrc)
    dc_rx_stream_init(&src->audio_rx, pkt->ssrc, 48000);
  uint64_t skipped = src->audio_rx.skipped;
  dc_rx_stream_silence_skipped(&src->audio_rx, pkt->seq, level == 127); /* bridge/silence_filter.h */
  if (src->audio_rx.skipped != skipped)
    dc_metrics_add(&dc_metrics.silence_skipped, src->audio_rx.skipped - skipped);
  dc_rx_stream_update(&src->audio_rx, pkt->seq, pkt->timestamp, len, now);
  unsigned step = src->uplink.step;
  if (dc_uplink_audio_packet(&src->uplink, pkt->timestamp, now)) {
    dc_metrics_add(src->uplink.step > step ? &dc_metrics.audio_rate_lowered : &dc_metrics.audio_rate_raised, 1);
    room_tell_audio_rate(src, src->uplink.step ? dc_uplink_audio_rate(&src->uplink) : 0);
  }
  if (g_atomic_int_get(&src->muted) || src->mix_slot < 0)
    return;
  if (pkt->payload_type != src->audio_pt) {
    push_red(src, pkt, level, now);
    return;
  }
  g_mutex_lock(&src->room->mix_lock);
  dc_mixer_push(src->room->mixer, src->mix_slot, pkt, level, now);
  g_mutex_unlock(&src->room->mix_lock);
}

/* ---- the mix clock ---- */

#define FEC_EVERY_TICKS 50 /* a second: receivers report about that often */

/* A receiver's mix for its worker: the packet is shared by every receiver of the same mix
 * (a tier's listeners), and the delivery holds a reference on it and on the receiver. */
typedef struct {
  dc_participant *rcv;
  shared_packet *pkt;
  uint32_t samples;
  uint8_t level_dbov;
} mix_delivery;
G_STATIC_ASSERT(sizeof(mix_delivery) <= DC_WORKER_MSG_MAX);

/* How many earlier frames go with the mix to this receiver (RFC 2198): none unless it takes
 * RED and reported audio loss in the last RED_HOLD_US, so clean links pay nothing; with
 * --red-always at least one. */
static unsigned red_depth(const dc_participant *rcv, uint64_t now) {
  if (rcv->audio.red_pt < 0)
    return 0;
  unsigned floor = rcv->room->bridge->red_always ? 1 : 0;
  unsigned loss = dc_loss_reports_worst(&rcv->audio_losses, now, RED_HOLD_US);
  if (!loss)
    return floor;
  return MAX(floor, dc_mixer_red_depth_policy(rcv->tier, loss, red_deep_allowed(rcv, now)));
}

/* Whether red_depth may give this receiver copies now, as the clock thread sees it: RED
 * negotiated, and --red-always or a loss report still holding (published by its worker). */
static bool takes_copies(const dc_participant *rcv, bool red_always) {
  return rcv->audio.red_pt >= 0 && (red_always || g_atomic_int_get(&rcv->audio_loss_pub) > 0);
}

/* Keeps the last DC_RED_REACH_MAX frames sent, for the copies in the next packets: the mixer's
 * smaller copy of a frame where it made one, else the frame itself. */
static void remember(dc_participant *rcv, const mix_delivery *d) {
  if (rcv->audio.red_pt < 0)
    return;
  red_history *h = &rcv->sent_mix;
  const shared_packet *pk = d->pkt;
  h->frames[h->next].ts = rcv->audio.last_ts;
  h->frames[h->next].len = pk->copy_len ? pk->copy_len : pk->len;
  memcpy(h->frames[h->next].data, pk->copy_len ? pk->data + pk->len : pk->data, h->frames[h->next].len);
  h->next = (h->next + 1) % DC_RED_REACH_MAX;
  h->n = MIN(h->n + 1, DC_RED_REACH_MAX);
}

/* The receiver's worker: the mix as one continuous stream of its audio section. */
static void deliver_audio_now(const mix_delivery *d) {
  slot *s = &d->rcv->audio;
  if (d->rcv->closed || s->section < 0)
    return;
  if (!s->started) {
    s->started = true;
    s->last_seq = (uint16_t)g_random_int();
    s->last_ts = g_random_int();
  }
  s->last_ts += d->samples;
  uint64_t now = (uint64_t)g_get_monotonic_time();
  s->ts_at_us = now;
  bool talkspurt = false, lossy = d->pkt->len <= DC_DTX_FRAME_MAX && /* the gate asks only of DTX frames */
                                  dc_loss_reports_worst(&d->rcv->audio_losses, now, RED_HOLD_US) > 0;
  if (!dc_dtx_gate_pass(&s->dtx, d->pkt->len, lossy, now, &talkspurt)) {
    remember(d->rcv, d); /* the copies' timestamps stay near: RFC 2198 gives them 14 bits */
    dc_metrics_add(&dc_metrics.mix_dtx_held, 1);
    return;
  }
  s->last_seq++;
  uint8_t level = (uint8_t)((d->level_dbov < 127 ? 0x80 : 0) | d->level_dbov); /* RFC 6464 */
  dc_rtp_ext_elem ext = {s->ext.audio_level, 1, &level};
  unsigned depth = red_depth(d->rcv, now);
  if ((depth > 1) != (d->rcv->red_depth_sent > 1) && d->rcv->tier == DC_TIER_HIGHLAND)
    g_debug("meeting %" G_GINT64_FORMAT " participant %" G_GINT64_FORMAT ": %s audio copies in each packet",
            d->rcv->room->meeting, d->rcv->id, depth > 1 ? "two (its link loses in runs)" : depth ? "one" : "no");
  d->rcv->red_depth_sent = depth;
  dc_rtp_header h = {.marker = talkspurt, .payload_type = depth ? (uint8_t)s->red_pt : s->pt,
                     .seq = s->last_seq, .timestamp = s->last_ts, .ssrc = s->ssrc};
  uint8_t buf[DC_TRANSPORT_BUF];
  size_t hl = dc_rtp_write_header(buf, sizeof buf, &h, &ext, s->ext.audio_level ? 1 : 0), len;
  unsigned reach = 0; /* how far back the oldest copy is, in frames */
  if (depth) {
    dc_red_block earlier[RED_DEPTH_MAX];
    const red_history *sent = &d->rcv->sent_mix;
    reach = dc_mixer_red_reach_policy(d->rcv->tier, depth, link_loses_in_runs(d->rcv),
                                      (unsigned)g_atomic_int_get(&d->rcv->audio_wait_ms));
    unsigned n = 0;
    for (unsigned back = MIN(reach, sent->n); back > reach - depth && back > 0; back--) { /* oldest first */
      unsigned i = (sent->next + DC_RED_REACH_MAX - back) % DC_RED_REACH_MAX;
      earlier[n++] = (dc_red_block){s->pt, s->last_ts - sent->frames[i].ts, sent->frames[i].data, sent->frames[i].len};
    }
    len = dc_red_write(buf + hl, sizeof buf - hl - DC_SRTP_MAX_TRAILER, earlier, n, s->pt, d->pkt->data, d->pkt->len);
  } else {
    memcpy(buf + hl, d->pkt->data, d->pkt->len);
    len = d->pkt->len;
  }
  remember(d->rcv, d);
  if (len && dc_transport_send_rtp(d->rcv->transport, buf, hl + len, sizeof buf) == DC_OK) {
    if (depth)
      dc_metrics_add(&dc_metrics.red_packets_out, 1);
    if (depth > 1)
      dc_metrics_add(&dc_metrics.red_two_copy_packets, 1);
    if (reach > 1)
      dc_metrics_add(&dc_metrics.red_far_packets, 1);
    d->rcv->sent_bytes += hl + len;
    s->sent_packets++; /* for our sender reports (feedback.c) */
    s->sent_octets += (uint32_t)len;
    pace_consume(d->rcv, hl + len, now); /* video leaves room for it */
    pace_after_audio(d->rcv, (uint64_t)d->samples * 1000 / 48, now); /* its video keeps clear of it */
  }
}

static void deliver_audio_ahead(const void *msg, unsigned stage) {
  const mix_delivery *d = msg;
  room_prefetch_delivery(d->rcv, &d->rcv->audio, stage);
}

static void deliver_audio(void *msg) {
  mix_delivery *d = msg;
  deliver_audio_now(d);
  shared_packet_unref(d->pkt);
  room_release(d->rcv);
}

/* The mix packets of one tick, each copied once however many receivers it goes to: most
 * share their tier's mix; a talker has its own (without its voice). */
typedef struct {
  const dc_mixer_packet *from;
  shared_packet *pkt;
} tick_share;

static shared_packet *share_of(GArray *shares, const dc_mixer_packet *pk) {
  for (guint i = 0; i < shares->len; i++)
    if (g_array_index(shares, tick_share, i).from == pk)
      return g_array_index(shares, tick_share, i).pkt;
  tick_share t = {pk, shared_packet_new_with_copy(pk->payload, pk->len, pk->copy, pk->copy_len)};
  g_array_append_val(shares, t);
  return t.pkt;
}

typedef struct {
  dc_bridge *bridge;
  int64_t meeting, participant;
} speaker_event;

static gboolean speaker_on_main(gpointer data) {
  speaker_event *e = data;
  if (e->bridge->stopping)
    return G_SOURCE_REMOVE;
  dc_room *r = g_hash_table_lookup(e->bridge->rooms, &e->meeting);
  dc_participant *p = r ? room_find(r, e->participant) : NULL;
  if (p) {
    p->last_spoke_us = g_get_monotonic_time();
    room_reroute_and_tell(r);
  }
  if (e->bridge->on_speaker)
    e->bridge->on_speaker(e->bridge->speaker_user, e->meeting, e->participant);
  return G_SOURCE_REMOVE;
}

/* From the clock thread (room_post_main: never a direct call). */
static void post_speaker(dc_bridge *b, int64_t meeting, int64_t speaker) {
  speaker_event *e = g_new(speaker_event, 1);
  *e = (speaker_event){b, meeting, speaker};
  room_post_main(b, speaker_on_main, e, g_free);
}

static void tick_room(dc_room *r, uint64_t now, GArray *out, GArray *shares) {
  bool speaker_changed = false;
  g_rw_lock_reader_lock(&r->lock);
  g_mutex_lock(&r->mix_lock);
  if (++r->fec_ticks >= FEC_EVERY_TICKS) { /* in-band FEC follows what each tier's listeners lose */
    unsigned worst[DC_TIER_COUNT] = {0};
    for (guint i = 0; i < r->members->len; i++) {
      dc_participant *p = g_ptr_array_index(r->members, i);
      worst[p->tier] = MAX(worst[p->tier], (unsigned)g_atomic_int_get(&p->audio_loss_pub));
    }
    for (int t = 0; t < DC_TIER_COUNT; t++)
      dc_mixer_set_expected_loss(r->mixer, (dc_tier)t, dc_mixer_expected_loss_policy((dc_tier)t, worst[t]));
    r->fec_ticks = 0;
  }
  dc_mixer_set_reduced_effort(r->mixer, r->bridge->mix_reduced_effort);
  dc_mixer_tick(r->mixer, now);
  dc_mixer_stats st = dc_mixer_get_stats(r->mixer);
  if (st.played) {
    dc_metrics_add(&dc_metrics.mix_played, st.played);
    dc_metrics_add(&dc_metrics.mix_wait_us, st.played_wait_us);
  }
  if (st.late_waits)
    dc_metrics_add(&dc_metrics.mix_late_waits, st.late_waits);
  if (st.concealed)
    dc_metrics_add(&dc_metrics.mix_concealed, st.concealed);
  if (st.fec_played)
    dc_metrics_add(&dc_metrics.mix_fec, st.fec_played);
  if (st.encodes)
    dc_metrics_add(&dc_metrics.mix_encodes, st.encodes);
  if (st.silence_resent)
    dc_metrics_add(&dc_metrics.mix_silence_resent, st.silence_resent);
  int dominant = dc_mixer_dominant(r->mixer);
  int64_t speaker = 0;
  for (guint i = 0; i < r->members->len && dominant >= 0; i++) {
    dc_participant *p = g_ptr_array_index(r->members, i);
    if (p->mix_slot == dominant)
      speaker = p->id;
  }
  if (speaker != r->speaker) {
    r->speaker = speaker;
    speaker_changed = true;
  }
  bool copies[DC_TIER_COUNT] = {false}, red_always = r->bridge->red_always;
  for (guint i = 0; i < r->members->len; i++) {
    dc_participant *p = g_ptr_array_index(r->members, i);
    copies[p->tier] = copies[p->tier] || takes_copies(p, red_always);
    const dc_mixer_packet *pk = p->mix_slot >= 0 ? dc_mixer_packet_for(r->mixer, p->mix_slot) : NULL;
    if (!pk)
      continue;
    mix_delivery d = {room_ref(p), shared_packet_ref(share_of(shares, pk)), pk->samples, pk->level_dbov};
    g_array_append_val(out, d);
  }
  for (int t = 0; t < DC_TIER_COUNT; t++) /* from the next frame */
    dc_mixer_want_copies(r->mixer, (dc_tier)t, copies[t]);
  /* the recording's full mix, copied out: rec_lock is never taken under mix_lock */
  const dc_mixer_packet *rec_pk = r->rec_mix_slot >= 0 ? dc_mixer_packet_for(r->mixer, r->rec_mix_slot) : NULL;
  size_t rec_len = rec_pk ? rec_pk->len : 0;
  uint32_t rec_samples = rec_pk ? rec_pk->samples : 0;
  uint8_t rec_payload[DC_MIX_MAX_PACKET];
  if (rec_len)
    memcpy(rec_payload, rec_pk->payload, rec_len);
  g_mutex_unlock(&r->mix_lock);
  g_rw_lock_reader_unlock(&r->lock);
  if (rec_len) {
    g_mutex_lock(&r->rec_lock);
    if (r->rec)
      dc_recorder_push_audio(r->rec, rec_payload, rec_len, rec_samples, now);
    g_mutex_unlock(&r->rec_lock);
  }
  if (speaker_changed) /* the clock thread alone writes r->speaker */
    post_speaker(r->bridge, r->meeting, r->speaker);
  for (guint i = 0; i < out->len; i++) { /* no lock held while handing over */
    mix_delivery *d = &g_array_index(out, mix_delivery, i);
    if (!room_post(d->rcv, deliver_audio, deliver_audio_ahead, d, sizeof *d)) {
      shared_packet_unref(d->pkt);
      room_unref(d->rcv);
    }
  }
  for (guint i = 0; i < shares->len; i++)
    shared_packet_unref(g_array_index(shares, tick_share, i).pkt);
  g_array_set_size(out, 0);
  g_array_set_size(shares, 0);
}

/* The clock at real-time priority (SCHED_FIFO, its lowest level), where the bridge may: it
 * then runs before every ordinary thread as soon as its deadline comes. Every listener hears
 * the mix when the clock wakes: at the ordinary priority, on two cores shared with three
 * Chromiums (a hall whose PC also runs the bridge is the same), it woke more than 60 ms late
 * 23-67 times a minute (at worst 265 ms), each such tick reaching everyone late at once;
 * real-time, 0-1 times (at worst 76 ms). What it does a tick is bounded (every room's mix:
 * tiers + talkers encodes, and a hand-off a listener), and the kernel keeps 5 % of each
 * second for ordinary threads in any case (sched_rt_runtime_us), so a fault in it cannot take
 * the whole machine. The workers stay ordinary: their work grows with what points send, which
 * anyone can make large (and at nice -10 they went out no sooner; README). */
static void clock_priority(const dc_bridge *b) {
  if (b->no_realtime_clock) {
    g_message("the mix clock runs at the ordinary priority (no-realtime-clock)");
    return;
  }
  struct sched_param sp = {.sched_priority = sched_get_priority_min(SCHED_FIFO)};
  int err = pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp);
  if (err == 0)
    g_message("the mix clock runs at real-time priority (SCHED_FIFO %d)", sp.sched_priority);
  else
    g_message("the mix clock runs at the ordinary priority (real-time refused: %s): on a busy machine the mix may go "
              "out late; as a service, allow it with LimitRTPRIO=%d (systemd) or CAP_SYS_NICE",
              g_strerror(err), sp.sched_priority);
}

int dc_mix_effort_tick(dc_mix_effort *e, uint64_t now_us, uint64_t took_us) {
  if (!e->window_start_us || now_us < e->window_start_us) {
    e->window_start_us = now_us;
    e->busy_us = 0;
    return -1;
  }
  e->busy_us += took_us;
  uint64_t span = now_us - e->window_start_us;
  if (span < G_USEC_PER_SEC)
    return -1;
  int share = (int)MIN(e->busy_us * 100 / span, 1000);
  e->window_start_us = now_us;
  e->busy_us = 0;
  if (!e->reduced && share > DC_MIX_EFFORT_BUSY) {
    e->reduced = true;
    e->calm_s = 0;
  } else if (e->reduced) {
    e->calm_s = share < DC_MIX_EFFORT_CALM ? e->calm_s + 1 : 0;
    if (e->calm_s >= DC_MIX_EFFORT_CALM_S)
      e->reduced = false;
  }
  return share;
}

/* What the clock says of its effort and of ticks it cannot keep: an operator reads it as
 * too many meetings at once for this machine. */
static void effort_tell(dc_bridge *b, const dc_mix_effort *e, int share, uint64_t now_us, uint64_t *late_told_us) {
  g_atomic_int_set(&b->mix_clock_pct, share);
  g_mutex_lock(&b->rooms_lock);
  unsigned rooms = b->room_list->len;
  g_mutex_unlock(&b->rooms_lock);
  if (e->reduced != b->mix_reduced_effort) {
    if (e->reduced)
      g_warning("mixing took %d %% of the mix clock's time over the last second (%u meetings): the audio encoders "
                "now work less hard (Opus complexity 5, 7 on the highland tier: about two thirds of the CPU, a "
                "little less quality) until it stays below %d %% for %d s",
                share, rooms, DC_MIX_EFFORT_CALM, DC_MIX_EFFORT_CALM_S);
    else
      g_message("mixing took under %d %% of the mix clock's time for %d s (%u meetings): the audio encoders are "
                "back at full effort",
                DC_MIX_EFFORT_CALM, DC_MIX_EFFORT_CALM_S, rooms);
    b->mix_reduced_effort = e->reduced;
    g_atomic_int_set(&b->mix_reduced_pub, e->reduced);
    atomic_store_explicit(&dc_metrics.mix_reduced_effort, e->reduced, memory_order_relaxed);
  }
  if (share >= DC_MIX_EFFORT_LATE && (!*late_told_us || now_us - *late_told_us >= 60 * G_USEC_PER_SEC)) {
    g_warning("the mix is late: mixing took %d %% of the mix clock's time over the last second (%u meetings), "
              "leaving its 20 ms ticks no room, so every meeting is heard late and broken up; this machine hosts "
              "more meetings at once than it can mix",
              share, rooms);
    *late_told_us = now_us;
  }
}

dc_mix_state dc_bridge_mix_state(dc_bridge *b) {
  unsigned pct = (unsigned)g_atomic_int_get(&b->mix_clock_pct);
  return (dc_mix_state){.clock_pct = pct, .reduced_effort = g_atomic_int_get(&b->mix_reduced_pub),
                        .late = pct >= DC_MIX_EFFORT_LATE};
}

/* Ticks every room every 20 ms on absolute deadlines, so a late tick does not delay the
 * next: the mix keeps the sender's pace however long one tick took. */
gpointer mix_clock_run(gpointer data) {
  dc_bridge *b = data;
  clock_priority(b);
  struct timespec next;
  clock_gettime(CLOCK_MONOTONIC, &next);
  /* one tick's deliveries and shared packets, reused tick after tick */
  GArray *out = g_array_new(FALSE, FALSE, sizeof(mix_delivery));
  GArray *shares = g_array_new(FALSE, FALSE, sizeof(tick_share));
  dc_mix_effort effort = {0};
  uint64_t late_told_us = 0;
  while (!g_atomic_int_get(&b->stop)) {
    next.tv_nsec += 20 * 1000 * 1000;
    if (next.tv_nsec >= 1000000000) {
      next.tv_nsec -= 1000000000;
      next.tv_sec++;
    }
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
    uint64_t now = (uint64_t)g_get_monotonic_time();
    /* The mixer is ticked with the deadline, not the wake-up: its playout sets packets'
     * arrivals against the tick's place on the 20 ms grid (start_depth in mixer.c), which a
     * late wake-up would flatter. g_get_monotonic_time is CLOCK_MONOTONIC in µs. */
    uint64_t deadline = (uint64_t)next.tv_sec * 1000000u + (uint64_t)next.tv_nsec / 1000u;
    dc_metrics_observe_mix_wake(now > deadline ? now - deadline : 0);
    g_mutex_lock(&b->rooms_lock);
    for (guint i = 0; i < b->room_list->len; i++)
      tick_room(g_ptr_array_index(b->room_list, i), deadline, out, shares);
    g_mutex_unlock(&b->rooms_lock);
    uint64_t end = (uint64_t)g_get_monotonic_time();
    dc_metrics_observe_mix_tick(end - now);
    int share = dc_mix_effort_tick(&effort, end, end - now);
    if (share >= 0)
      effort_tell(b, &effort, share, end, &late_told_us);
  }
  g_array_unref(out);
  g_array_unref(shares);
  return NULL;
}
