/* pacer.h — a receiver's video, sent at the rate its link carries rather than as it comes.
 *
 * A key frame arrives at the bridge as a burst of packets, and forwarded as one it fills a
 * thin link's queue at once: the audio behind it waits, and on a highland link the tail of
 * the burst is dropped. The pacer holds a receiver's video packets in a ring and lets them
 * go at a set rate (a token bucket: a burst of at most DC_PACER_BURST_US at the rate, never
 * less than two full packets). Audio is not held — it is small and late
 * audio is lost audio — but the caller counts it against the same budget
 * (dc_pacer_consume), so video leaves room for it.
 *
 * Sans-IO: packets and the caller's clock in; packets out when due and the time to ask
 * again. The ring starts at DC_PACER_RING_START bytes and doubles, up to its capacity, when
 * a packet does not fit: most receivers' queues never hold more than a few packets, and a
 * ring of its full capacity each (48 KiB for the standard profile) was a fifth of what a
 * participant cost the bridge. Empty and not grown for DC_PACER_SHRINK_US, it goes back to
 * its start size. When the ring is full a packet is refused and
 * counted: the receiver's NACK and the bridge's cache repair it, or the next key frame.
 * dc_pace_rate_bps is the rate a receiver's pacer is set to: its link's rate as the estimate
 * and the REMB say, what comes for it, or a probe's.
 * dc_pacer_keep_clear keeps a thin link's line clear for the audio's next packet.
 * Left out: priorities among video packets (retransmissions queue like the rest), and
 * padding or probing.
 */
#ifndef DC_PACER_H
#define DC_PACER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DC_PACER_BURST_US 10000
#define DC_PACER_RING_START 4096
#define DC_PACER_SHRINK_US 2000000

typedef struct dc_pacer dc_pacer;

/* capacity: bytes of packets the ring may grow to hold (each packet also takes 2 bytes of
 * length). */
dc_pacer *dc_pacer_new(size_t capacity);
void dc_pacer_free(dc_pacer *p);

/* The audio's beat, for a thin link (a highland receiver's): its packet left at audio_us and
 * the next is due period_us later; the link crosses link_bps. The link's queue is one line:
 * at 128 kbit/s a 600 B video packet ahead of an audio packet holds it 37 ms, and the
 * listener's jitter buffer deepens to cover what video's packets add to the audio's delay. So
 * a video packet starts only if, after what the pacer sent before it (modelled at link_bps),
 * it has crossed the link by the next audio packet, give or take DC_PACER_AUDIO_SLACK_US; else
 * it waits for that beat. One that takes longer than a beat goes just after an audio packet
 * that met the link clear. The beat is not kept while more than DC_PACER_AUDIO_BACKLOG_BEATS
 * periods of video wait (a key frame, repairs, an estimate that fell): held to a packet or two
 * a period, the video would fall below the pacer's rate and the picture stall, so it goes as
 * paced until the queue is short again; nor after DC_PACER_AUDIO_QUIET_BEATS periods with no
 * audio (DTX). period_us 0: no beat (the default). */
#define DC_PACER_AUDIO_SLACK_US 10000
#define DC_PACER_AUDIO_LATE_US 5000
#define DC_PACER_AUDIO_QUIET_BEATS 2
#define DC_PACER_AUDIO_BACKLOG_BEATS 2
void dc_pacer_keep_clear(dc_pacer *p, uint64_t audio_us, uint64_t period_us, uint64_t link_bps);

/* The rate packets leave at, bits per second (> 0). */
void dc_pacer_set_rate(dc_pacer *p, uint64_t bps, uint64_t now_us);

/* The rate for a receiver's pacer: factor times the most of its link's rate, what comes for
 * it (coming_bps: so steady video is not held back) and a running probe's rate (probe_bps, 0:
 * none). Its link's rate is its estimate, or its REMB (0: none) where that is lower: a
 * highland point's estimate starts at its profile's 150 kbit/s and a REMB at 90 % of what is
 * sent or more never cuts it, so on a 128 kbit/s link whose page said 89-116 kbit/s key frames
 * left at 187 kbit/s: the link's queue held the audio behind them, and the page's jitter
 * buffer went from ~70 to ~320 ms and shed it only over tens of seconds. */
uint64_t dc_pace_rate_bps(double factor, uint64_t estimate_bps, uint64_t remb_bps, uint64_t coming_bps,
                          uint64_t probe_bps);

/* Queues a copy of a packet of len bytes (1..65535); false, and nothing queued, when the ring
 * has no room for it. */
bool dc_pacer_push(dc_pacer *p, const uint8_t *pkt, size_t len, uint64_t now_us);

/* When nothing waits, the budget holds len bytes now and (keep_beat) the audio's beat lets it
 * go (dc_pacer_keep_clear; a repair is let go at once, a round trip late already): true, with
 * the budget debited, and the caller sends the packet at once (the usual case, without
 * copying it through the ring). Otherwise false, and the caller pushes it. */
bool dc_pacer_admit(dc_pacer *p, size_t len, bool keep_beat, uint64_t now_us);

/* Bytes sent outside the pacer (audio) at now: they take their share of the budget. */
void dc_pacer_consume(dc_pacer *p, size_t len, uint64_t now_us);

/* The next packet that may leave at now, copied into out (cap bytes): returns its length, or
 * 0 when none may leave yet or none waits; then *wake_us says when to ask again (0: nothing
 * queued). A packet longer than cap is dropped (counted) rather than stall the queue. */
size_t dc_pacer_pop(dc_pacer *p, uint64_t now_us, uint8_t *out, size_t cap, uint64_t *wake_us);

typedef struct {
  size_t queued_bytes, queued_packets;
  uint64_t dropped; /* refused for want of room, or too long for the caller's buffer */
  uint64_t sent;
  size_t ring_bytes; /* what the ring has grown to */
} dc_pacer_stats;
dc_pacer_stats dc_pacer_get_stats(const dc_pacer *p);

#endif
