/* uplink_video.h — what a camera's uplink carries, from the queue its packets show on the way
 * in: the delay half of the REMB the bridge sends a source (bridge/feedback.c).
 *
 * A browser sends its video up to our REMB, and that followed only the loss our receiver
 * reports show (GCC's loss controller, media/router.h dc_bwe): between 2 and 10 % it holds. On
 * a highland link whose air loses 5 %, it held at the profile's 150 kbit/s while the link
 * carried 128: the point's queue stood full (400 ms) and dropped a packet in twenty on top of
 * the air's, and the repairs the bridge asked for waited in that queue and came after it had
 * given up on them (link lab, highland-128: 146 kbit/s offered to the uplink; 106 of the
 * queue's drops in the first ten seconds).
 *
 * As a REMB receiver does, the bridge reads the delay: each video packet's abs-send-time (the
 * sender's clock as the packet left its pacer, 6.18 fixed point, 64 s around) against its
 * arrival is its transit, and queue_meter.h gives the queue each half second held. A second
 * with the queue above DC_UPLINK_VIDEO_QUEUE_HIGH_US means the link carries what came and no
 * more: the estimate falls to 0.85 of what came (GCC's decrease, draft-ietf-rmcat-gcc-02 §5.5)
 * and holds while the queue drains (0.15 of the link drains it in six times the queue it
 * held; a second more for the sender to hear and its encoder to follow; at most 5 s). A
 * second with the queue under DC_UPLINK_VIDEO_QUEUE_LOW_US grows it 8 % a second (GCC's
 * multiplicative increase), 3 % once near the rate at which the queue last stood, and never
 * above 1.5 times what came (a sender below its cap shows nothing of more).
 *
 * The estimate is a cap beside the loss controller's (the lower wins: GCC's final rate), and 0
 * until the queue first stands: a link that carries what is sent is the loss controller's, as
 * before. Left out: GCC's trendline (§5.3; the half-second minima are coarser, and one late
 * packet does not move them), and senders that send no abs-send-time (their REMB is the loss
 * controller's alone). Sans-IO: packets and the caller's clock in, a rate out.
 */
#ifndef DC_UPLINK_VIDEO_H
#define DC_UPLINK_VIDEO_H

#include <stdbool.h>
#include <stdint.h>

#include "media/queue_meter.h"

#define DC_UPLINK_VIDEO_QUEUE_HIGH_US 100000
#define DC_UPLINK_VIDEO_QUEUE_LOW_US 40000

typedef struct {
  dc_queue_meter meter;
  bool started;
  uint32_t last_ast;        /* the last packet's abs-send-time, 24 bits */
  int64_t send_ticks;       /* last_ast unwrapped, in its 2^-18 s from the first packet (each
                             * packet's step rounded to µs would drift the clock a little) */
  int64_t queue_us;         /* what the last half second held; -1 before one ended */
  uint64_t estimate_bps;    /* 0: the queue never stood */
  uint64_t stood_at_bps;    /* what came when the queue last stood */
  uint64_t hold_until_us;   /* no cut and no growth before: the queue drains */
  uint64_t last_us;         /* the last dc_uplink_video_estimate */
  unsigned cuts;
} dc_uplink_video;

void dc_uplink_video_init(dc_uplink_video *u);

/* One of the camera's packets (media, repair, FEC or padding): its abs-send-time and when it
 * came. */
void dc_uplink_video_packet(dc_uplink_video *u, uint32_t abs_send_time24, uint64_t now_us);

/* Once a report interval (about a second): came_bps, all that came from the sender over it.
 * Returns the most its uplink carries now, bits per second; 0 while the queue never stood. */
uint64_t dc_uplink_video_estimate(dc_uplink_video *u, uint64_t came_bps, uint64_t now_us);

#endif
