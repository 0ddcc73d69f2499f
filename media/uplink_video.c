/* uplink_video.c — a camera's uplink rate from the queue its packets show; see uplink_video.h. */
#include "media/uplink_video.h"

#include <string.h>

#define STANDING_HALVES 2       /* a second of queue before a cut */
#define CALM_HALVES 2           /* a second without one before growth */
#define RESTART_US 10000000     /* send times jumping further than this: a new clock */
#define HOLD_MIN_US 1000000
#define HOLD_MAX_US 5000000
/* from 90 to 105 % of the rate at which the queue last stood, the estimate grows slowly: the
 * link's rate is there, and a queue takes seconds to show a small excess */
#define NEAR_LOW_PERCENT 90
#define NEAR_HIGH_PERCENT 105
#define FAR_GROWTH_PERCENT 8
#define NEAR_GROWTH_PERCENT 2

void dc_uplink_video_init(dc_uplink_video *u) {
  memset(u, 0, sizeof *u);
  u->queue_us = -1;
}

void dc_uplink_video_packet(dc_uplink_video *u, uint32_t abs_send_time24, uint64_t now_us) {
  abs_send_time24 &= 0xFFFFFF;
  if (!u->started) {
    u->started = true;
    u->send_ticks = 0;
    dc_queue_meter_start(&u->meter, now_us, DC_UPLINK_VIDEO_QUEUE_HIGH_US, DC_UPLINK_VIDEO_QUEUE_LOW_US);
  } else {
    /* the 24-bit difference, signed (a repair or a reordered packet went earlier) */
    int32_t delta = (int32_t)((abs_send_time24 - u->last_ast) << 8) >> 8;
    int64_t delta_us = (int64_t)delta * 1000000 / (1 << 18);
    if (delta_us > RESTART_US || delta_us < -RESTART_US) {
      u->send_ticks = 0;
      dc_queue_meter_start(&u->meter, now_us, DC_UPLINK_VIDEO_QUEUE_HIGH_US, DC_UPLINK_VIDEO_QUEUE_LOW_US);
    } else {
      u->send_ticks += delta;
    }
  }
  u->last_ast = abs_send_time24;
  int64_t queue;
  int64_t send_us = u->send_ticks * 1000000 / (1 << 18);
  if (dc_queue_meter_add(&u->meter, (int64_t)now_us - send_us, now_us, &queue))
    u->queue_us = queue;
}

uint64_t dc_uplink_video_estimate(dc_uplink_video *u, uint64_t came_bps, uint64_t now_us) {
  uint64_t elapsed = u->last_us && now_us > u->last_us ? now_us - u->last_us : 1000000;
  u->last_us = now_us;
  if (now_us < u->hold_until_us)
    return u->estimate_bps;
  if (u->meter.high_halves >= STANDING_HALVES && came_bps) {
    u->estimate_bps = came_bps * 85 / 100;
    u->stood_at_bps = came_bps;
    /* 0.15 of the link drains the queue in six times what it held, once the sender has
     * heard (a round trip) and its encoder followed (about a second) */
    uint64_t hold = (uint64_t)u->queue_us * 6 + 1000000;
    u->hold_until_us = now_us + (hold < HOLD_MIN_US ? HOLD_MIN_US : hold > HOLD_MAX_US ? HOLD_MAX_US : hold);
    u->meter.high_halves = 0;
    u->cuts++;
  } else if (u->estimate_bps && u->meter.low_halves >= CALM_HALVES) {
    bool near = u->estimate_bps * 100 >= u->stood_at_bps * NEAR_LOW_PERCENT &&
                u->estimate_bps * 100 <= u->stood_at_bps * NEAR_HIGH_PERCENT;
    unsigned percent = near ? NEAR_GROWTH_PERCENT : FAR_GROWTH_PERCENT;
    if (elapsed > 2000000)
      elapsed = 2000000; /* a late call is not a license to leap */
    uint64_t grown = u->estimate_bps + u->estimate_bps * percent * elapsed / 100 / 1000000;
    uint64_t most = came_bps * 3 / 2;
    if (grown > most)
      grown = most > u->estimate_bps ? most : u->estimate_bps;
    u->estimate_bps = grown;
  }
  return u->estimate_bps;
}
