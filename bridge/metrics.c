/* metrics.c — counters, histograms and the live link view; see metrics.h. */
#include "bridge/metrics.h"

#include "bridge/outbox.h"
#include "bridge/worker.h"

#include "bridge/room_private.h"

dc_metrics_counters dc_metrics;

const double dc_mix_tick_bounds_us[DC_MIX_TICK_BUCKETS] = {100, 250, 500, 1000, 2500, 5000, 10000, 20000};
const double dc_wake_bounds_us[DC_WAKE_BUCKETS] = {250, 1000, 2500, 5000, 10000, 20000, 50000, 100000};
const double dc_join_bounds_ms[DC_JOIN_BUCKETS] = {250, 500, 1000, 2000, 4000, 8000, 16000, 32000};
const double dc_hold_bounds_us[DC_HOLD_BUCKETS] = {50, 100, 250, 500, 1000, 2500, 5000, 10000};

static void observe(atomic_uint_fast64_t *buckets, const double *bounds, int n, atomic_uint_fast64_t *count,
                    atomic_uint_fast64_t *sum, uint64_t v) {
  int i = 0;
  while (i < n && (double)v > bounds[i])
    i++;
  dc_metrics_add(&buckets[i], 1); /* buckets[n]: above the last bound (+Inf only) */
  dc_metrics_add(count, 1);
  dc_metrics_add(sum, v);
}

void dc_metrics_observe_mix_tick(uint64_t us) {
  observe(dc_metrics.mix_tick_buckets, dc_mix_tick_bounds_us, DC_MIX_TICK_BUCKETS, &dc_metrics.mix_tick_count,
          &dc_metrics.mix_tick_sum_us, us);
}

void dc_metrics_observe_mix_wake(uint64_t us_late) {
  observe(dc_metrics.wake_buckets, dc_wake_bounds_us, DC_WAKE_BUCKETS, &dc_metrics.wake_count, &dc_metrics.wake_sum_us,
          us_late);
}

void dc_metrics_observe_join(uint64_t ms) {
  observe(dc_metrics.join_buckets, dc_join_bounds_ms, DC_JOIN_BUCKETS, &dc_metrics.join_count,
          &dc_metrics.join_sum_ms, ms);
}

void dc_metrics_observe_hold(uint64_t us) {
  observe(dc_metrics.hold_buckets, dc_hold_bounds_us, DC_HOLD_BUCKETS, &dc_metrics.hold_count,
          &dc_metrics.hold_sum_us, us);
}

static uint64_t get(atomic_uint_fast64_t *c) { return atomic_load_explicit(c, memory_order_relaxed); }

static void counter(GString *out, const char *name, const char *help, atomic_uint_fast64_t *c) {
  g_string_append_printf(out, "# HELP %s %s\n# TYPE %s counter\n%s %" G_GUINT64_FORMAT "\n", name, help, name,
                         name, get(c));
}

/* Cumulative buckets, as the format wants; values in seconds (scale: units per second). */
static void histogram(GString *out, const char *name, const char *help, atomic_uint_fast64_t *buckets,
                      const double *bounds, int n, atomic_uint_fast64_t *count, atomic_uint_fast64_t *sum,
                      double scale) {
  g_string_append_printf(out, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
  uint64_t cum = 0;
  for (int i = 0; i < n; i++) {
    cum += get(&buckets[i]);
    g_string_append_printf(out, "%s_bucket{le=\"%g\"} %" G_GUINT64_FORMAT "\n", name, bounds[i] / scale, cum);
  }
  cum += get(&buckets[n]);
  g_string_append_printf(out, "%s_bucket{le=\"+Inf\"} %" G_GUINT64_FORMAT "\n", name, cum);
  g_string_append_printf(out, "%s_sum %g\n%s_count %" G_GUINT64_FORMAT "\n", name, (double)get(sum) / scale,
                         name, get(count));
}

void dc_metrics_write(GString *out, dc_bridge *b) {
  unsigned meetings = 0, participants = 0, connected = 0;
  unsigned n_workers = dc_workers_count(b->workers);
  uint64_t *queued = g_new0(uint64_t, n_workers);
  GHashTableIter it;
  gpointer value;
  g_hash_table_iter_init(&it, b->rooms);
  while (g_hash_table_iter_next(&it, NULL, &value)) {
    dc_room *r = value;
    if (r->members->len)
      meetings++;
    for (guint i = 0; i < r->members->len; i++) { /* main thread: membership is ours to read */
      dc_participant *p = g_ptr_array_index(r->members, i);
      participants++;
      connected += p->connected;
      queued[dc_worker_index(p->worker) % n_workers] += (uint64_t)g_atomic_int_get(&p->pending);
    }
  }
  g_string_append_printf(out, "# HELP diemcau_meetings Meetings with someone in them.\n# TYPE diemcau_meetings gauge\n"
                              "diemcau_meetings %u\n", meetings);
  g_string_append_printf(out, "# HELP diemcau_participants Participants joined, and those whose media is up.\n"
                              "# TYPE diemcau_participants gauge\ndiemcau_participants{media=\"any\"} %u\n"
                              "diemcau_participants{media=\"connected\"} %u\n", participants, connected);
  g_string_append(out, "# HELP diemcau_worker_queue_depth Deliveries waiting for each media worker.\n"
                       "# TYPE diemcau_worker_queue_depth gauge\n");
  for (unsigned w = 0; w < n_workers; w++)
    g_string_append_printf(out, "diemcau_worker_queue_depth{worker=\"%u\"} %" G_GUINT64_FORMAT "\n", w, queued[w]);
  g_free(queued);
  g_string_append_printf(out, "# HELP diemcau_mix_reduced_effort 1 while the audio encoders work less hard: mixing "
                              "took more than %d %% of the mix clock's time.\n# TYPE diemcau_mix_reduced_effort gauge\n"
                              "diemcau_mix_reduced_effort %" G_GUINT64_FORMAT "\n",
                         DC_MIX_EFFORT_BUSY, get(&dc_metrics.mix_reduced_effort));
  g_string_append(out, "# HELP diemcau_rtp_packets_total RTP packets through the bridge.\n"
                       "# TYPE diemcau_rtp_packets_total counter\n");
  g_string_append_printf(out, "diemcau_rtp_packets_total{direction=\"in\"} %" G_GUINT64_FORMAT "\n"
                              "diemcau_rtp_packets_total{direction=\"out\"} %" G_GUINT64_FORMAT "\n",
                         get(&dc_metrics.rtp_packets_in), get(&dc_metrics.rtp_packets_out));
  g_string_append(out, "# HELP diemcau_rtp_bytes_total RTP bytes through the bridge, before SRTP.\n"
                       "# TYPE diemcau_rtp_bytes_total counter\n");
  g_string_append_printf(out, "diemcau_rtp_bytes_total{direction=\"in\"} %" G_GUINT64_FORMAT "\n"
                              "diemcau_rtp_bytes_total{direction=\"out\"} %" G_GUINT64_FORMAT "\n",
                         get(&dc_metrics.rtp_bytes_in), get(&dc_metrics.rtp_bytes_out));
  g_string_append(out, "# HELP diemcau_rtcp_packets_total RTCP compound packets through the bridge.\n"
                       "# TYPE diemcau_rtcp_packets_total counter\n");
  g_string_append_printf(out, "diemcau_rtcp_packets_total{direction=\"in\"} %" G_GUINT64_FORMAT "\n"
                              "diemcau_rtcp_packets_total{direction=\"out\"} %" G_GUINT64_FORMAT "\n",
                         get(&dc_metrics.rtcp_packets_in), get(&dc_metrics.rtcp_packets_out));
  g_string_append(out, "# HELP diemcau_packets_lost_total Packets lost: on the way to the bridge (its reports), and of the "
                       "mix on the way to receivers (theirs).\n# TYPE diemcau_packets_lost_total counter\n");
  g_string_append_printf(out, "diemcau_packets_lost_total{direction=\"in\"} %" G_GUINT64_FORMAT "\n"
                              "diemcau_packets_lost_total{direction=\"out\"} %" G_GUINT64_FORMAT "\n",
                         get(&dc_metrics.lost_up), get(&dc_metrics.lost_down));
  dc_outbox_stats ob = dc_outbox_get_stats();
  g_string_append_printf(out,
                         "# HELP diemcau_media_sends_total System calls that sent media datagrams, the sends in them "
                         "(an io_uring batch holds many), and the datagrams they sent (bridge/outbox.h: a run of one "
                         "peer's packets goes in one send).\n"
                         "# TYPE diemcau_media_sends_total counter\n"
                         "diemcau_media_sends_total{what=\"calls\"} %" G_GUINT64_FORMAT "\n"
                         "diemcau_media_sends_total{what=\"sends\"} %" G_GUINT64_FORMAT "\n"
                         "diemcau_media_sends_total{what=\"datagrams\"} %" G_GUINT64_FORMAT "\n"
                         "diemcau_media_sends_total{what=\"gso_calls\"} %" G_GUINT64_FORMAT "\n"
                         "diemcau_media_sends_total{what=\"gso_datagrams\"} %" G_GUINT64_FORMAT "\n",
                         ob.calls, ob.sends, ob.packets, ob.gso_calls, ob.gso_packets);
  g_string_append_printf(out,
                         "# HELP diemcau_media_receives_total System calls that read participants' sockets (an io_uring "
                         "batch of a worker's ready sockets is one), the datagrams they read (added 64 at a time on each "
                         "worker), and of those the ones that came several in one buffer (UDP GRO: one peer's run).\n"
                         "# TYPE diemcau_media_receives_total counter\n"
                         "diemcau_media_receives_total{what=\"calls\"} %" G_GUINT64_FORMAT "\n"
                         "diemcau_media_receives_total{what=\"datagrams\"} %" G_GUINT64_FORMAT "\n"
                         "diemcau_media_receives_total{what=\"coalesced_datagrams\"} %" G_GUINT64_FORMAT "\n",
                         get(&dc_metrics.direct_reads) + dc_workers_ring_reads().calls, get(&dc_metrics.direct_datagrams),
                         get(&dc_metrics.direct_coalesced));
  g_string_append_printf(out,
                         "# HELP diemcau_media_io_uring_requests_total Of the sends and reads above, those made through "
                         "a worker's io_uring (bridge/uring.h); 0 where the kernel has none or --no-io-uring is set.\n"
                         "# TYPE diemcau_media_io_uring_requests_total counter\n"
                         "diemcau_media_io_uring_requests_total{what=\"sends\"} %" G_GUINT64_FORMAT "\n"
                         "diemcau_media_io_uring_requests_total{what=\"reads\"} %" G_GUINT64_FORMAT "\n",
                         ob.ring_sends, dc_workers_ring_reads().reads);
  counter(out, "diemcau_rtp_padded_to_run_total",
          "RTP packets padded by a few bytes to go out in one call with the run of the same length before them.",
          &dc_metrics.rtp_padded_to_run);
  counter(out, "diemcau_srtp_refused_total", "Packets refused by SRTP (failed authentication or replays).",
          &dc_metrics.srtp_refused);
  counter(out, "diemcau_direct_receive_total", "Participants' transports that came to read their UDP socket themselves.",
          &dc_metrics.direct_receive);
  counter(out, "diemcau_silence_filters_total",
          "Of those, transports whose socket drops the participant's silent audio in the kernel (muted points).",
          &dc_metrics.silence_filters);
  counter(out, "diemcau_audio_silence_skipped_total",
          "Participants' audio packets missing beside silence, taken as dropped by the kernel's silence filter "
          "rather than lost (a packet lost next to silence is counted here too).",
          &dc_metrics.silence_skipped);
  counter(out, "diemcau_path_checks_total",
          "Consent checks sent to a new address a participant's packets came from (RFC 7675).", &dc_metrics.path_checks);
  counter(out, "diemcau_path_moves_total", "Participants whose media moved to a new address after it answered there.",
          &dc_metrics.path_moves);
  counter(out, "diemcau_rtt_checks_total", "Our own checks (STUN Binding requests) to participants for the round trip.",
          &dc_metrics.rtt_checks);
  counter(out, "diemcau_rtt_checks_answered_total", "Of those, answered by the participant on its path in time to count.",
          &dc_metrics.rtt_checks_answered);
  counter(out, "diemcau_red_packets_out_total", "Mix packets that carried an earlier frame (RFC 2198 redundancy).",
          &dc_metrics.red_packets_out);
  counter(out, "diemcau_red_two_copy_packets_total",
          "Mix packets that carried two earlier frames: to highland points whose links lose packets in runs.",
          &dc_metrics.red_two_copy_packets);
  counter(out, "diemcau_red_far_packets_total",
          "Mix packets whose oldest copy was two frames back or more: to listeners whose loss comes in runs, or who said "
          "their jitter buffer waits that long.",
          &dc_metrics.red_far_packets);
  counter(out, "diemcau_red_frames_recovered_total",
          "Points' audio frames lost on the way that a later packet's copy (RFC 2198) brought in time.",
          &dc_metrics.red_frames_recovered);
  counter(out, "diemcau_upstream_nacks_total", "Sequence numbers NACKed to sources (first asks and retries).",
          &dc_metrics.upstream_nacks);
  counter(out, "diemcau_repairs_received_total", "Retransmissions (RFC 4588) sources sent back for packets we asked for.",
          &dc_metrics.repairs_received);
  counter(out, "diemcau_fec_packets_total", "ULPFEC packets (RFC 5109) highland cameras sent to protect their video.",
          &dc_metrics.fec_packets);
  counter(out, "diemcau_fec_recovered_total", "Video packets lost on a camera's uplink that its ULPFEC rebuilt.",
          &dc_metrics.fec_recovered);
  counter(out, "diemcau_nacks_received_total", "Packets receivers asked to have sent again.",
          &dc_metrics.nacks_received);
  counter(out, "diemcau_repairs_sent_total", "Retransmissions sent to receivers.", &dc_metrics.repairs_sent);
  counter(out, "diemcau_repairs_refused_total",
          "NACKed packets not sent again (budget; not in the cache: aged out, or lost on the source's uplink).",
          &dc_metrics.repairs_refused);
  counter(out, "diemcau_keyframe_requests_total", "Key frames asked of sources (PLI or FIR).",
          &dc_metrics.keyframe_requests);
  counter(out, "diemcau_deliveries_dropped_total", "Packets dropped because a receiver's worker fell behind.",
          &dc_metrics.deliveries_dropped);
  g_string_append_printf(out,
                         "# HELP diemcau_mix_playout_wait_seconds Time talkers' packets waited in the mixers' jitter "
                         "buffers, from arrival to the tick that began playing them.\n"
                         "# TYPE diemcau_mix_playout_wait_seconds summary\n"
                         "diemcau_mix_playout_wait_seconds_sum %g\ndiemcau_mix_playout_wait_seconds_count %" G_GUINT64_FORMAT
                         "\n",
                         (double)get(&dc_metrics.mix_wait_us) / 1e6, get(&dc_metrics.mix_played));
  counter(out, "diemcau_mix_late_waits_total",
          "Ticks a talker was concealed while the mixer waited for a packet that had not come (late, or a pause "
          "in DTX).",
          &dc_metrics.mix_late_waits);
  counter(out, "diemcau_mix_frames_concealed_total",
          "Talkers' frames missing before a later packet, concealed in the mix (Opus PLC); a frame whose time the "
          "mixer skipped after waiting for it is not counted (diemcau_packets_lost_total counts every loss).",
          &dc_metrics.mix_concealed);
  counter(out, "diemcau_mix_frames_fec_total",
          "Talkers' frames lost on the way to the bridge and played from the next packet's in-band FEC.",
          &dc_metrics.mix_fec);
  counter(out, "diemcau_mix_encodes_total", "Mixes the mixers encoded (each room's tiers and talkers' own mixes).",
          &dc_metrics.mix_encodes);
  counter(out, "diemcau_mix_silence_resent_total",
          "Mixes of digital silence (a lone talker's own, any while nobody speaks) sent as the stream's last silent "
          "frame again instead of encoded.",
          &dc_metrics.mix_silence_resent);
  counter(out, "diemcau_mix_dtx_held_total",
          "Mix packets not sent: a listener's DTX frames after the first of a pause (one goes every 400 ms).",
          &dc_metrics.mix_dtx_held);
  counter(out, "diemcau_uplink_audio_lowered_total",
          "Times a point that sends no camera was asked for a lower audio rate: its uplink queued its audio.",
          &dc_metrics.audio_rate_lowered);
  counter(out, "diemcau_uplink_audio_raised_total",
          "Times such a point was asked for a higher audio rate again, its uplink's queue empty a while.",
          &dc_metrics.audio_rate_raised);
  counter(out, "diemcau_uplink_video_cuts_total",
          "Times a camera's send rate (our REMB) was cut to what its uplink carried: its packets showed a standing queue.",
          &dc_metrics.uplink_video_cuts);
  histogram(out, "diemcau_mix_tick_seconds", "Time the mix clock took for one 20 ms tick of every room.",
            dc_metrics.mix_tick_buckets, dc_mix_tick_bounds_us, DC_MIX_TICK_BUCKETS, &dc_metrics.mix_tick_count,
            &dc_metrics.mix_tick_sum_us, 1e6);
  histogram(out, "diemcau_mix_wake_late_seconds",
            "How late the mix clock woke for each 20 ms tick: a box too busy for the bridge sends every listener's "
            "sound that much late (a 20 ms tick or more late, the listeners' jitter buffers may skip it).",
            dc_metrics.wake_buckets, dc_wake_bounds_us, DC_WAKE_BUCKETS, &dc_metrics.wake_count,
            &dc_metrics.wake_sum_us, 1e6);
  histogram(out, "diemcau_join_seconds", "Time from a participant's join to its media being up.",
            dc_metrics.join_buckets, dc_join_bounds_ms, DC_JOIN_BUCKETS, &dc_metrics.join_count,
            &dc_metrics.join_sum_ms, 1e3);
  histogram(out, "diemcau_outbox_hold_seconds",
            "How long the first media packet a worker's pass held waited for the pass's end, when they all went "
            "(the longest any packet waited there).",
            dc_metrics.hold_buckets, dc_hold_bounds_us, DC_HOLD_BUCKETS, &dc_metrics.hold_count,
            &dc_metrics.hold_sum_us, 1e6);
}

void dc_participant_link_stats(dc_participant *p, dc_link_stats *out) {
  *out = (dc_link_stats){.rtt_ms = g_atomic_int_get(&p->rtt_ms_pub)};
  gint down = g_atomic_int_get(&p->loss_down_pub), up = g_atomic_int_get(&p->loss_up_pub);
  gint audio = g_atomic_int_get(&p->audio_loss_now_pub);
  out->loss_down_pct = down < 0 ? -1 : down * 100.0 / 256;
  out->loss_up_pct = up < 0 ? -1 : up * 100.0 / 256;
  out->audio_loss_pct = audio < 0 ? -1 : audio * 100.0 / 256;
  out->kbps_down = (unsigned)g_atomic_int_get(&p->kbps_down_pub);
  out->kbps_up = (unsigned)g_atomic_int_get(&p->kbps_up_pub);
  out->estimate_kbps = (unsigned)g_atomic_int_get(&p->estimate_kbps);
  out->queue = (unsigned)g_atomic_int_get(&p->pending);
  if (!p->n_video)
    return;
  const slot *main = &p->video[0]; /* source and off are the main thread's */
  out->main_off = main->off;
  out->main_source = main->off ? 0 : main->source;
  g_rw_lock_reader_lock(&p->room->lock);
  dc_participant *src = out->main_source ? room_find(p->room, out->main_source) : NULL;
  gint layer = g_atomic_int_get((gint *)&main->playing_layer);
  if (src && layer >= 0 && layer < src->n_layers)
    g_strlcpy(out->main_layer, src->rids[layer][0] ? src->rids[layer] : "single", sizeof out->main_layer);
  g_rw_lock_reader_unlock(&p->room->lock);
}
