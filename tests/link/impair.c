/* impair.c — one direction of an emulated link; see impair.h. */
#include "tests/link/impair.h"

#include <string.h>

static double clamp01(double x) { return x < 0 ? 0 : x >= 1 ? 0.999999 : x; }

/* splitmix64 of the seed and a stream number, so that nearby seeds and the streams of one
 * seed give unrelated sequences (and 0 works) */
static uint64_t seeded(uint64_t seed, uint64_t stream) {
  uint64_t z = seed + (stream + 1) * 0x9e3779b97f4a7c15u;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
  return (z ^ (z >> 31)) | 1;
}

/* xorshift64*: uniform in [0, 1) */
static double uniform(uint64_t *state) {
  *state ^= *state >> 12;
  *state ^= *state << 25;
  *state ^= *state >> 27;
  return (double)((*state * 0x2545F4914F6CDD1Du) >> 11) / 9007199254740992.0;
}

void dc_impair_init(dc_impair *im, const dc_impair_config *cfg, uint64_t seed) {
  memset(im, 0, sizeof *im);
  im->cfg = *cfg;
  im->cfg.loss = clamp01(cfg->loss);
  im->cfg.reorder = clamp01(cfg->reorder);
  if (im->cfg.burst < 1)
    im->cfg.burst = 1;
  if (im->cfg.rate_bps > 0 && !im->cfg.queue_bytes)
    im->cfg.queue_bytes = (size_t)(im->cfg.rate_bps / 8 * 0.2);
  im->rng = seeded(seed, 0);
  for (unsigned f = 0; f < DC_IMPAIR_FLOWS; f++)
    im->flow[f].rng = seeded(seed, f + 1);
}

double dc_impair_uniform(dc_impair *im) { return uniform(&im->rng); }

/* Random or burst loss for the flow's next packet (impair.h, step 2). */
static bool lose(dc_impair *im, unsigned f, uint64_t now_us) {
  double loss = im->cfg.loss, burst = im->cfg.burst;
  if (loss <= 0)
    return false;
  if (burst <= 1)
    return uniform(&im->flow[f].rng) < loss;
  double to_bad = loss / (burst * (1 - loss)), to_good = 1 / burst;
  double u = uniform(&im->flow[f].rng); /* one draw a packet, whatever the clock: seeds line up */
  if (im->flow[f].bad)
    im->flow[f].bad = u >= to_good && now_us - im->flow[f].bad_since_us < DC_IMPAIR_FADE_MAX_US;
  else if ((im->flow[f].bad = u < to_bad))
    im->flow[f].bad_since_us = now_us;
  return im->flow[f].bad;
}

dc_impair_fate dc_impair_packet(dc_impair *im, unsigned flow, uint64_t now_us, size_t len, bool link_up,
                                uint64_t *due_us) {
  unsigned f = flow < DC_IMPAIR_FLOWS ? flow : DC_IMPAIR_FLOWS - 1;
  dc_impair_stats *st = &im->stats;
  if (!st->packets)
    st->first_us = now_us;
  st->packets++;
  st->bytes += len;
  if (!link_up) {
    st->outage_drops++;
    return DC_IMPAIR_OUTAGE;
  }
  bool lost = lose(im, f, now_us);
  if (lost && !im->flow[f].last_lost)
    st->loss_runs++;
  im->flow[f].last_lost = lost;
  if (lost) {
    st->lost++;
    return DC_IMPAIR_LOST;
  }
  uint64_t left = now_us; /* when the packet has left the bottleneck */
  if (im->cfg.rate_bps > 0) {
    uint64_t start = im->busy_until > now_us ? im->busy_until : now_us;
    /* bytes still queued ahead of this packet, at the rate */
    double backlog = (double)(start - now_us) * im->cfg.rate_bps / 8e6;
    if (backlog + (double)len > (double)im->cfg.queue_bytes) {
      st->queue_drops++;
      return DC_IMPAIR_QUEUE;
    }
    left = start + (uint64_t)((double)len * 8e6 / im->cfg.rate_bps);
    im->busy_until = left;
  }
  uint64_t due = left + im->cfg.delay_us;
  if (im->cfg.jitter_us) {
    double j = (dc_impair_uniform(im) * 2 - 1) * (double)im->cfg.jitter_us;
    due = (uint64_t)((double)due + j > (double)left ? (double)due + j : (double)left);
  }
  if (im->cfg.reorder > 0 && dc_impair_uniform(im) < im->cfg.reorder) {
    due += im->cfg.reorder_us; /* held back: later packets overtake it */
    st->reordered++;
  } else {
    if (due < im->last_due)
      due = im->last_due;
    im->last_due = due;
  }
  st->passed++;
  st->passed_bytes += len;
  st->delay_sum_us += due - now_us;
  if (due - now_us > st->delay_max_us)
    st->delay_max_us = due - now_us;
  if (due > st->last_out_us)
    st->last_out_us = due;
  *due_us = due;
  return DC_IMPAIR_PASS;
}
