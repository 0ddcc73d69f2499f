/* rtt_hist.c — see rtt_hist.h. */
#include "signaling/rtt_hist.h"

static int bucket_of(int ms) {
  if (ms < 100)
    return ms;
  if (ms < 1000)
    return 100 + (ms - 100) / 10;
  if (ms < 10000)
    return 190 + (ms - 1000) / 100;
  return DC_RTT_HIST_BUCKETS - 1;
}

static int floor_of(int b) {
  if (b < 100)
    return b;
  if (b < 190)
    return 100 + (b - 100) * 10;
  return 1000 + (b - 190) * 100; /* the last bucket: 10 000 ms and over */
}

void dc_rtt_hist_add(dc_rtt_hist *h, int ms) {
  if (ms < 0 || h->n == UINT32_MAX)
    return;
  h->count[bucket_of(ms)]++;
  h->n++;
}

int dc_rtt_hist_median(const dc_rtt_hist *h) {
  if (!h->n)
    return -1;
  /* the lower median, as the sorted samples' [n / 2] was */
  uint64_t seen = 0, want = (uint64_t)h->n / 2 + 1;
  for (int b = 0; b < DC_RTT_HIST_BUCKETS; b++) {
    seen += h->count[b];
    if (seen >= want)
      return floor_of(b);
  }
  return floor_of(DC_RTT_HIST_BUCKETS - 1);
}
