/* uplink_audio.h — the rate a talker's audio encoder should keep to, from the queue its own
 * packets show on the way in.
 *
 * A point that sends only audio has nothing else on its uplink: when its packets come later
 * and later, its link's queue is filling, and only a lower rate empties it. A browser asked
 * for RED (RFC 2198) sends each frame twice: at the highland tier's 16 kbit/s that is ~42 kbit/s
 * on the wire, which a 32 kbit/s link queues until it drops (measured in the link lab: the
 * point's voice reached the district 0.9 s late and broken). The bridge cannot renegotiate the
 * codec, but a page can lower its sender's rate (RTCRtpSender.setParameters, maxBitrate).
 *
 * The queue is read from each packet's transit, its arrival less its RTP time (queue_meter.h:
 * the least of each half second above the least of the last 20-30 s). A second of queue over
 * DC_UPLINK_QUEUE_HIGH_US steps the rate down one step and waits DC_UPLINK_HOLD_DOWN_US for
 * the queue to drain; DC_UPLINK_CALM_US with the queue under DC_UPLINK_QUEUE_LOW_US steps it up
 * again, and a step up that has to be taken back within a minute doubles that wait (to at most
 * DC_UPLINK_CALM_MAX_US), so a link that carries only the lower rate is not overfilled every
 * half minute.
 *
 * Like the overuse detector of GCC (draft-ietf-rmcat-gcc §5) in what it reads (delay that
 * grows) but far simpler: no trendline, no rate estimate; steps fit for one audio stream.
 * Left out: points that also send video (their REMB governs what they send: uplink_video.h), and
 * telling the sender anything when its packets' RTP times jump (a new stream starts afresh).
 * Sans-IO: packets and the caller's clock in, a new rate out.
 */
#ifndef DC_UPLINK_AUDIO_H
#define DC_UPLINK_AUDIO_H

#include <stdbool.h>
#include <stdint.h>

#include "media/queue_meter.h"

#define DC_UPLINK_QUEUE_HIGH_US 150000
#define DC_UPLINK_QUEUE_LOW_US 40000
#define DC_UPLINK_HOLD_DOWN_US 4000000
#define DC_UPLINK_CALM_US 20000000
#define DC_UPLINK_CALM_MAX_US 320000000
#define DC_UPLINK_STEPS 4

typedef struct {
  uint32_t steps_bps[DC_UPLINK_STEPS]; /* the rates, highest first: steps_bps[0] is the answer's */
  unsigned step;                       /* the rate asked now */
  bool started;
  uint32_t last_ts;
  int64_t ts_us;                       /* last_ts on an unwrapped microsecond scale */
  dc_queue_meter meter;
  uint64_t hold_until_us;              /* no step down before (the queue drains) */
  uint64_t calm_us;                    /* what a step up waits for now */
  uint64_t last_up_us;                 /* when the rate last went up (0: never) */
} dc_uplink_audio;

/* steps_bps: the rate the answer asked first, then lower ones (0 ends the list early). */
void dc_uplink_audio_init(dc_uplink_audio *u, const uint32_t *steps_bps, unsigned n);

/* One of the talker's packets: its RTP timestamp (48 kHz) and when it came. Returns true when
 * the rate to ask changed; dc_uplink_audio_rate then says which. */
bool dc_uplink_audio_packet(dc_uplink_audio *u, uint32_t rtp_ts, uint64_t now_us);

/* The rate the sender should keep to now, bits per second of its codec (not counting RED's
 * copies or headers). */
uint32_t dc_uplink_audio_rate(const dc_uplink_audio *u);

#endif
