/* rtt_hist.h — the median round trip of a stay (attendance), in constant memory.
 *
 * The bridge samples each connected participant's round trip once a second (RFC 3550 §6.4.1,
 * bridge/video.c). Keeping the samples for an exact median cost 4 bytes a second each, up to
 * 28 KiB a participant in a two-hour meeting, and a sort of them all every 10 s when the stay
 * was saved. A histogram costs ~1.1 KiB whatever the length: 1 ms buckets below 100 ms,
 * 10 ms below 1 s, 100 ms below 10 s, one above. The median is read as its bucket's floor,
 * exact to the millisecond on a LAN and within 10 % on a highland link, which is as much as an
 * attendance report shows.
 */
#ifndef DC_RTT_HIST_H
#define DC_RTT_HIST_H

#include <stdint.h>

#define DC_RTT_HIST_BUCKETS 281

typedef struct {
  uint32_t n;
  uint32_t count[DC_RTT_HIST_BUCKETS];
} dc_rtt_hist;

/* ms < 0 (no round trip known) is not counted. */
void dc_rtt_hist_add(dc_rtt_hist *h, int ms);
/* The median's bucket floor in ms, -1 when nothing was counted. */
int dc_rtt_hist_median(const dc_rtt_hist *h);

#endif
