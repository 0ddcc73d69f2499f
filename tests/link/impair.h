/* impair.h — what a slow, lossy link does to one direction of traffic, without I/O: the link
 * lab's emulator (linkem.c) asks it, packet by packet, whether a packet survives and when it
 * comes out. Its own tests (test_impair.c) drive it with a synthetic clock.
 *
 * The model, in the order a packet meets it:
 *   1. outage: while the link is down every packet is lost;
 *   2. loss: independent (Bernoulli) at `loss`, or bursty when `burst` > 1: a two-state
 *      Gilbert model (every packet lost in the bad state, none in the good one) whose mean
 *      loss is `loss` and whose mean run of losses is `burst` packets, so p(good→bad) =
 *      loss / (burst · (1 − loss)) and p(bad→good) = 1 / burst. Drawn per flow (the
 *      caller's classes of traffic, up to DC_IMPAIR_FLOWS), each with a generator and a
 *      Gilbert state of its own seeded from the seed: a flow's n-th packet meets the same
 *      fate whatever else crosses the link, so two builds whose joins send different
 *      traffic lose the same packets of the same speech. A fade lasts at most
 *      DC_IMPAIR_FADE_MAX_US, however few packets of the flow cross it: counted in packets
 *      alone, a sparse flow's run (a connectivity check resent after 0.5, 1, 2 and 4 s; a
 *      TCP handshake's 1, 2, 4 s) was a fade of seconds that the flows beside it never met,
 *      and it failed joins no radio link would (a run of four of the point's checks, 7 s);
 *   3. the bottleneck: a FIFO of `queue_bytes` drained at `rate_bps`; a packet that does not
 *      fit is dropped at the tail (what a 3G modem's buffer does);
 *   4. propagation: `delay_us` plus a uniform jitter of ±`jitter_us`, never reordering on its
 *      own (a later packet leaves no earlier than the one before it) …
 *   5. … except a packet picked for reordering (`reorder`), held `reorder_us` longer.
 * Left out: corruption, duplication, rate changes over time (a scenario restarts linkem).
 */
#ifndef DC_IMPAIR_H
#define DC_IMPAIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DC_IMPAIR_FADE_MAX_US 1000000 /* a fade's longest (step 2) */

typedef struct {
  double rate_bps;    /* 0: no bottleneck */
  size_t queue_bytes; /* the bottleneck's buffer; 0 with a rate: 200 ms of it */
  uint64_t delay_us, jitter_us;
  double loss;  /* 0..1, mean */
  double burst; /* mean packets per loss run; <= 1: independent losses */
  double reorder;
  uint64_t reorder_us;
} dc_impair_config;

typedef enum {
  DC_IMPAIR_PASS,
  DC_IMPAIR_LOST,   /* random or burst loss */
  DC_IMPAIR_QUEUE,  /* the bottleneck's buffer was full */
  DC_IMPAIR_OUTAGE, /* the link was down */
} dc_impair_fate;

typedef struct {
  uint64_t packets, bytes, passed, lost, queue_drops, outage_drops, reordered;
  uint64_t loss_runs;      /* runs of consecutive random/burst losses */
  uint64_t delay_sum_us;   /* of the packets passed: time from arrival to leaving */
  uint64_t delay_max_us;
  uint64_t passed_bytes;
  uint64_t first_us, last_out_us;
} dc_impair_stats;

#define DC_IMPAIR_FLOWS 8

typedef struct {
  dc_impair_config cfg;
  uint64_t rng; /* jitter and reordering */
  struct {
    uint64_t rng;
    bool bad;       /* the Gilbert model's state */
    uint64_t bad_since_us;
    bool last_lost; /* for counting loss runs */
  } flow[DC_IMPAIR_FLOWS];
  uint64_t busy_until;   /* the bottleneck is sending until then */
  uint64_t last_due;     /* when the last passed packet leaves (order keeping) */
  dc_impair_stats stats;
} dc_impair;

/* Loss, burst and reorder are clamped to [0, 1) and [1, ...); seed 0 is as good as any. */
void dc_impair_init(dc_impair *im, const dc_impair_config *cfg, uint64_t seed);

/* A packet of len bytes of the given flow (0..DC_IMPAIR_FLOWS-1; others count as the last)
 * arrives at now_us (never earlier than the previous one's). On DC_IMPAIR_PASS, *due_us is
 * when it comes out of the far end. */
dc_impair_fate dc_impair_packet(dc_impair *im, unsigned flow, uint64_t now_us, size_t len, bool link_up,
                                uint64_t *due_us);

/* Uniform in [0, 1), from the direction's own seeded generator (xorshift64*). */
double dc_impair_uniform(dc_impair *im);

#endif
