/* queue_meter.c — the queue on a sender's path from its packets' transit; see queue_meter.h. */
#include "media/queue_meter.h"

#define BUCKET_US 10000000 /* the floor is the least transit of three such buckets */

void dc_queue_meter_start(dc_queue_meter *m, uint64_t now_us, int64_t high_us, int64_t low_us) {
  m->high_us = high_us;
  m->low_us = low_us;
  m->high_halves = m->low_halves = 0;
  for (int i = 0; i < 3; i++)
    m->floor_us[i] = DC_QUEUE_METER_NONE;
  m->bucket_start_us = now_us;
  m->half_min_us = DC_QUEUE_METER_NONE;
  m->half_start_us = now_us;
}

static int64_t floor_of(const dc_queue_meter *m) {
  int64_t f = DC_QUEUE_METER_NONE;
  for (int i = 0; i < 3; i++)
    if (m->floor_us[i] < f)
      f = m->floor_us[i];
  return f;
}

bool dc_queue_meter_add(dc_queue_meter *m, int64_t transit_us, uint64_t now_us, int64_t *queue_us) {
  bool ended = false;
  if (now_us - m->half_start_us >= DC_QUEUE_METER_HALF_US) {
    if (m->half_min_us != DC_QUEUE_METER_NONE) {
      *queue_us = m->half_min_us - floor_of(m);
      ended = true;
      bool high = *queue_us > m->high_us, low = *queue_us < m->low_us;
      m->high_halves = high ? m->high_halves + 1 : 0;
      m->low_halves = low ? m->low_halves + 1 : 0;
    }
    m->half_min_us = DC_QUEUE_METER_NONE;
    m->half_start_us = now_us;
  }
  if (now_us - m->bucket_start_us >= BUCKET_US) {
    m->floor_us[2] = m->floor_us[1];
    m->floor_us[1] = m->floor_us[0];
    m->floor_us[0] = DC_QUEUE_METER_NONE;
    m->bucket_start_us = now_us;
  }
  if (transit_us < m->floor_us[0])
    m->floor_us[0] = transit_us;
  if (transit_us < m->half_min_us)
    m->half_min_us = transit_us;
  return ended;
}
