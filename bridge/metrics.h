/* metrics.h — the bridge's counters for /metrics (Prometheus text format 0.0.4) and each
 * participant's link as the operators' live view shows it.
 *
 * Counters are process-wide relaxed atomics, bumped where the work happens (transport,
 * repairs, key-frame requests, the mix clock), so counting costs no lock on the packet
 * path; one process runs one bridge. Gauges (meetings, participants, queue depths) are read
 * when /metrics is asked for, on the main thread.
 *
 * Left out: per-meeting or per-participant series (labels that grow with use: the live view
 * in the console has them), and anything that would need a lock on the packet path.
 */
#ifndef DC_METRICS_H
#define DC_METRICS_H

#include <glib.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* Histogram bucket bounds: the mix tick in microseconds (its budget is 20 000), how late the
 * mix clock woke for a tick in microseconds, the time from join to media up in milliseconds. */
#define DC_MIX_TICK_BUCKETS 8
#define DC_WAKE_BUCKETS 8
#define DC_JOIN_BUCKETS 8
#define DC_HOLD_BUCKETS 8
extern const double dc_mix_tick_bounds_us[DC_MIX_TICK_BUCKETS];
extern const double dc_wake_bounds_us[DC_WAKE_BUCKETS];
extern const double dc_join_bounds_ms[DC_JOIN_BUCKETS];
extern const double dc_hold_bounds_us[DC_HOLD_BUCKETS];

typedef struct {
  atomic_uint_fast64_t rtp_packets_in, rtp_bytes_in, rtp_packets_out, rtp_bytes_out;
  atomic_uint_fast64_t rtcp_packets_in, rtcp_packets_out;
  atomic_uint_fast64_t srtp_refused;       /* packets that failed to authenticate or replayed */
  atomic_uint_fast64_t lost_up, lost_down; /* packets lost on the way to us (our reports), and of the
                                            * mix on the way to receivers (their reports) */
  atomic_uint_fast64_t upstream_nacks;     /* sequence numbers NACKed to sources (first asks and retries) */
  atomic_uint_fast64_t fec_packets;        /* ULPFEC packets (RFC 5109) highland cameras sent */
  atomic_uint_fast64_t fec_recovered;      /* ... and the lost packets rebuilt from them */
  atomic_uint_fast64_t repairs_received;   /* ... and the retransmissions (RFC 4588) that came back */
  atomic_uint_fast64_t nacks_received;     /* sequence numbers receivers asked for */
  atomic_uint_fast64_t repairs_sent, repairs_refused;
  atomic_uint_fast64_t keyframe_requests;  /* PLI/FIR sent to sources */
  atomic_uint_fast64_t deliveries_dropped; /* a receiver's worker queue was full */
  atomic_uint_fast64_t direct_receive;     /* transports reading their own socket (transport_receive.c) */
  atomic_uint_fast64_t direct_reads, direct_datagrams; /* their reads (recvmmsg calls that got any) and datagrams */
  atomic_uint_fast64_t direct_coalesced;   /* ... of those, datagrams that came several in one (UDP GRO) */
  atomic_uint_fast64_t silence_filters;    /* ... of those, whose socket drops the peer's silent audio (silence_filter.h) */
  atomic_uint_fast64_t silence_skipped;    /* audio packets left out beside silence, as their numbers tell */
  atomic_uint_fast64_t path_checks;        /* our checks to an address a peer's packets came from anew */
  atomic_uint_fast64_t path_moves;         /* ... answered there by the peer: where we send moved */
  atomic_uint_fast64_t rtt_checks, rtt_checks_answered; /* our round-trip checks to peers on their path */
  atomic_uint_fast64_t red_packets_out;    /* mix packets that carried an earlier frame (RFC 2198) */
  atomic_uint_fast64_t red_two_copy_packets; /* ... two of them: to a highland point whose link loses in runs */
  atomic_uint_fast64_t red_far_packets; /* ... whose oldest reached two frames back or more (dc_mixer_red_reach_policy) */
  atomic_uint_fast64_t rtp_padded_to_run;  /* packets padded to go out in one call with the run before (outbox.h) */
  atomic_uint_fast64_t red_frames_recovered; /* points' lost audio frames their later RED packets brought */
  atomic_uint_fast64_t mix_played, mix_wait_us; /* talkers' packets the mixers played, their wait in the jitter buffers */
  atomic_uint_fast64_t mix_late_waits;          /* ticks a talker was concealed waiting for a packet */
  atomic_uint_fast64_t mix_concealed, mix_fec;  /* talkers' frames lost on the way in: concealed, or from FEC */
  atomic_uint_fast64_t mix_encodes, mix_silence_resent; /* mixes encoded; mixes of silence sent again instead */
  atomic_uint_fast64_t mix_dtx_held; /* listeners' DTX frames not sent (media/mixer.h, dc_dtx_gate) */
  atomic_uint_fast64_t mix_reduced_effort;      /* 1 while the encoders work less hard (audio.c, dc_mix_effort) */
  atomic_uint_fast64_t audio_rate_lowered, audio_rate_raised; /* asks to points whose uplink queued their audio */
  atomic_uint_fast64_t uplink_video_cuts; /* REMBs cut to what a camera's uplink carried, its queue standing */
  atomic_uint_fast64_t mix_tick_buckets[DC_MIX_TICK_BUCKETS + 1], mix_tick_count, mix_tick_sum_us;
  atomic_uint_fast64_t wake_buckets[DC_WAKE_BUCKETS + 1], wake_count, wake_sum_us;
  atomic_uint_fast64_t join_buckets[DC_JOIN_BUCKETS + 1], join_count, join_sum_ms;
  /* how long the first packet a worker's pass held waited for the pass's end (outbox.h) */
  atomic_uint_fast64_t hold_buckets[DC_HOLD_BUCKETS + 1], hold_count, hold_sum_us;
} dc_metrics_counters;

extern dc_metrics_counters dc_metrics;

static inline void dc_metrics_add(atomic_uint_fast64_t *c, uint64_t n) {
  atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}
void dc_metrics_observe_mix_tick(uint64_t us);
void dc_metrics_observe_mix_wake(uint64_t us_late);
void dc_metrics_observe_join(uint64_t ms);
void dc_metrics_observe_hold(uint64_t us);

typedef struct dc_bridge dc_bridge;
/* Appends the bridge's metrics, with HELP and TYPE lines (main thread). */
void dc_metrics_write(GString *out, dc_bridge *b);

/* A participant's link now, as its worker last published it (about once a second). */
typedef struct {
  int rtt_ms;             /* from our sender reports and its receiver reports; -1 unknown */
  double loss_down_pct;   /* what it reports losing of what we send, -1 unknown */
  double loss_up_pct;     /* what we lose of what it sends, -1 unknown */
  unsigned kbps_down, kbps_up, estimate_kbps;
  double audio_loss_pct;  /* its reports on the mix, before RED and FEC repair; -1 unknown */
  int64_t main_source;    /* the participant its main picture shows, 0 none */
  char main_layer[16];    /* that picture's simulcast layer (rid), "" when none */
  bool main_off;          /* the main picture is off: its bandwidth does not fit */
  unsigned queue;         /* deliveries waiting for its worker */
} dc_link_stats;

typedef struct dc_participant dc_participant;
void dc_participant_link_stats(dc_participant *p, dc_link_stats *out); /* main thread */

#endif
