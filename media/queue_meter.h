/* queue_meter.h — the queue a sender's packets meet on the way to us, read from their transit.
 *
 * A packet's transit is its arrival (our clock) less when it was sent (the sender's clock, in
 * an origin of the caller's choosing): the offset between the clocks is unknown but constant,
 * so the least transit of the last 20-30 s is the path without a queue (the floor), and the
 * least of each half second above it is the queue that half second held. A jitter spike
 * raises one packet, a standing queue every packet: the least of a half second is high only
 * when the queue never emptied in it. A clock drift of 100 ppm moves the floor 3 ms in 30 s.
 * The meter also counts the half seconds in a row whose queue was above the caller's high
 * mark, or below its low one (between: neither count goes on).
 *
 * Used for a talker's audio (uplink_audio.h, the RTP time as the send clock) and a camera's
 * uplink (uplink_video.h, abs-send-time). Sans-IO.
 */
#ifndef DC_QUEUE_METER_H
#define DC_QUEUE_METER_H

#include <stdbool.h>
#include <stdint.h>

#define DC_QUEUE_METER_HALF_US 500000
#define DC_QUEUE_METER_NONE INT64_MAX

typedef struct {
  int64_t floor_us[3];  /* least transit in each of the last three 10 s buckets */
  uint64_t bucket_start_us;
  int64_t half_min_us;  /* least transit of the half second so far */
  uint64_t half_start_us;
  int64_t high_us, low_us;
  unsigned high_halves, low_halves; /* in a row; the caller may zero them */
} dc_queue_meter;

/* Forgets every transit and count (a new stream, another clock); high_us and low_us: the
 * marks. */
void dc_queue_meter_start(dc_queue_meter *m, uint64_t now_us, int64_t high_us, int64_t low_us);

/* One packet's transit, arriving at now_us. When a half second with packets ended before
 * this one, *queue_us is the queue it held and true is returned (the packet itself counts
 * toward the next half second); a half second with no packet says nothing. */
bool dc_queue_meter_add(dc_queue_meter *m, int64_t transit_us, uint64_t now_us, int64_t *queue_us);

#endif
