/* uplink_audio.c — a talker's audio rate from the queue on its uplink; see uplink_audio.h. */
#include "media/uplink_audio.h"

#include <string.h>

#define HIGH_HALVES 2          /* a second of queue before a step down */
#define UP_FAILED_US 60000000  /* a step down this soon after a step up: the link did not carry it */
#define RESTART_US 10000000    /* RTP time jumping further than this: a new stream */

void dc_uplink_audio_init(dc_uplink_audio *u, const uint32_t *steps_bps, unsigned n) {
  memset(u, 0, sizeof *u);
  for (unsigned i = 0; i < n && i < DC_UPLINK_STEPS && steps_bps[i]; i++)
    u->steps_bps[i] = steps_bps[i];
  u->calm_us = DC_UPLINK_CALM_US;
}

static unsigned lowest_step(const dc_uplink_audio *u) {
  unsigned n = 0;
  while (n < DC_UPLINK_STEPS && u->steps_bps[n])
    n++;
  return n ? n - 1 : 0;
}

static void start(dc_uplink_audio *u, uint32_t rtp_ts, uint64_t now_us) {
  u->started = true;
  u->last_ts = rtp_ts;
  u->ts_us = 0;
  dc_queue_meter_start(&u->meter, now_us, DC_UPLINK_QUEUE_HIGH_US, DC_UPLINK_QUEUE_LOW_US);
}

/* A half second ended (the meter counted it): whether that moves the rate. */
static bool judge_half(dc_uplink_audio *u, uint64_t now_us) {
  dc_queue_meter *m = &u->meter;
  if (m->high_halves >= HIGH_HALVES && now_us >= u->hold_until_us && u->step < lowest_step(u)) {
    u->step++;
    m->high_halves = 0;
    u->hold_until_us = now_us + DC_UPLINK_HOLD_DOWN_US;
    if (u->last_up_us && now_us - u->last_up_us < UP_FAILED_US)
      u->calm_us = u->calm_us * 2 > DC_UPLINK_CALM_MAX_US ? DC_UPLINK_CALM_MAX_US : u->calm_us * 2;
    return true;
  }
  if (u->step > 0 && (uint64_t)m->low_halves * DC_QUEUE_METER_HALF_US >= u->calm_us) {
    u->step--;
    m->low_halves = 0;
    u->last_up_us = now_us;
    return true;
  }
  return false;
}

bool dc_uplink_audio_packet(dc_uplink_audio *u, uint32_t rtp_ts, uint64_t now_us) {
  if (!u->steps_bps[0])
    return false;
  if (!u->started) {
    start(u, rtp_ts, now_us);
  } else {
    int64_t delta_us = (int64_t)(int32_t)(rtp_ts - u->last_ts) * 1000000 / 48000;
    if (delta_us > RESTART_US || delta_us < -RESTART_US)
      start(u, rtp_ts, now_us);
    else
      u->ts_us += delta_us, u->last_ts = rtp_ts;
  }
  /* a half second with no packet (a pause in DTX) says nothing of the queue */
  int64_t queue;
  return dc_queue_meter_add(&u->meter, (int64_t)now_us - u->ts_us, now_us, &queue) && judge_half(u, now_us);
}

uint32_t dc_uplink_audio_rate(const dc_uplink_audio *u) {
  return u->steps_bps[u->step];
}
