/* The link lab's model checked on its own statistics: rate, queue, delay and jitter, random
 * and burst loss, reordering, outages and seeding. A synthetic clock drives it, so every run
 * is the same; the bounds are those of the seeded draws, with room for another seed. */
#include <glib.h>
#include <math.h>

#include "tests/link/impair.h"

static dc_impair make(dc_impair_config cfg, uint64_t seed) {
  dc_impair im;
  dc_impair_init(&im, &cfg, seed);
  return im;
}

/* 1000-byte packets at twice a 128 kbit/s rate for 20 s: what comes out is the rate, the
 * rest is tail-dropped, and no packet waits longer than the queue holds. */
static void test_rate_and_queue(void) {
  dc_impair im = make((dc_impair_config){.rate_bps = 128000, .queue_bytes = 16000}, 1);
  uint64_t t = 0, due = 0, last = 0;
  for (; t < 20000000; t += 31250) /* 32 packets/s × 1000 B = 256 kbit/s offered */
    if (dc_impair_packet(&im, 0, t, 1000, true, &due) == DC_IMPAIR_PASS)
      last = due;
  double kbit = im.stats.passed_bytes * 8.0 / (last / 1e6) / 1000;
  g_test_message("passed %.1f kbit/s (want 128), queue drops %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT
                 ", max delay %.0f ms", kbit, im.stats.queue_drops, im.stats.packets, im.stats.delay_max_us / 1e3);
  g_assert_cmpfloat(fabs(kbit - 128), <, 128 * 0.03);
  g_assert_cmpuint(im.stats.queue_drops, >, im.stats.packets * 4 / 10);
  /* 16000 B at 128 kbit/s drain in 1 s: nothing waits longer */
  g_assert_cmpuint(im.stats.delay_max_us, <=, 1000000 + 62500);
  g_assert_cmpuint(im.stats.lost + im.stats.outage_drops, ==, 0);
}

/* A burst of 40 packets into an empty 64 kbit/s link with an 8000-byte queue: exactly as many
 * pass as fit, and they leave one serialisation time apart. */
static void test_queue_tail_drop(void) {
  dc_impair im = make((dc_impair_config){.rate_bps = 64000, .queue_bytes = 8000}, 2);
  uint64_t due[40] = {0};
  int passed = 0;
  for (int i = 0; i < 40; i++)
    passed += dc_impair_packet(&im, 0, 1000, 500, true, &due[passed]) == DC_IMPAIR_PASS;
  g_assert_cmpint(passed, ==, 16); /* 16 × 500 B = 8000 B */
  for (int i = 1; i < passed; i++)
    g_assert_cmpuint(due[i] - due[i - 1], ==, 62500); /* 500 B at 64 kbit/s */
}

/* 150 ms ± 25 ms at a low rate: every delay in bounds, the mean in the middle, order kept. */
static void test_delay_and_jitter(void) {
  dc_impair im = make((dc_impair_config){.delay_us = 150000, .jitter_us = 25000}, 3);
  uint64_t prev = 0, due;
  for (uint64_t t = 0; t < 60000000; t += 20000) {
    g_assert_cmpint(dc_impair_packet(&im, 0, t, 100, true, &due), ==, DC_IMPAIR_PASS);
    g_assert_cmpuint(due, >=, prev); /* no reordering unless asked */
    g_assert_cmpuint(due - t, >=, 125000);
    g_assert_cmpuint(due - t, <=, 175000);
    prev = due;
  }
  double mean = im.stats.delay_sum_us / (double)im.stats.passed / 1e3;
  g_test_message("mean one-way delay %.1f ms (want 150 ± 25, order kept)", mean);
  g_assert_cmpfloat(mean, >, 148);
  g_assert_cmpfloat(mean, <, 160); /* order keeping pushes the mean up a little */
}

/* Independent loss at 3 %: the share and the run lengths of a Bernoulli process. */
static void test_random_loss(void) {
  dc_impair im = make((dc_impair_config){.loss = 0.03}, 4);
  uint64_t due;
  for (uint64_t i = 0; i < 200000; i++)
    dc_impair_packet(&im, 0, i * 1000, 100, true, &due);
  double share = im.stats.lost / 2000.0, run = im.stats.lost / (double)im.stats.loss_runs;
  g_test_message("lost %.2f %% (want 3), mean run %.2f packets (want 1.03)", share, run);
  g_assert_cmpfloat(fabs(share - 3), <, 0.25);
  g_assert_cmpfloat(run, <, 1.1);
}

/* Gilbert loss at 10 % in runs of 3: the mean loss and the mean run both hold. */
static void test_burst_loss(void) {
  dc_impair im = make((dc_impair_config){.loss = 0.10, .burst = 3}, 5);
  uint64_t due;
  for (uint64_t i = 0; i < 300000; i++)
    dc_impair_packet(&im, 0, i * 1000, 100, true, &due);
  double share = im.stats.lost / 3000.0, run = im.stats.lost / (double)im.stats.loss_runs;
  g_test_message("lost %.2f %% (want 10), mean run %.2f packets (want 3)", share, run);
  g_assert_cmpfloat(fabs(share - 10), <, 0.6);
  g_assert_cmpfloat(fabs(run - 3), <, 0.2);
}

/* A fade is a stretch of time: a sparse flow's packets (a check resent 600 ms apart) meet at
 * most two of them in a row in one (DC_IMPAIR_FADE_MAX_US), while a dense flow's runs keep
 * their length (test_burst_loss). Before, this flow lost runs of up to 34 packets (20 s). */
static void test_fade_is_time(void) {
  dc_impair im = make((dc_impair_config){.loss = 0.3, .burst = 5}, 8);
  uint64_t due;
  unsigned run = 0, longest = 0;
  for (uint64_t i = 0; i < 20000; i++) {
    bool lost = dc_impair_packet(&im, 0, i * 600000, 100, true, &due) == DC_IMPAIR_LOST;
    run = lost ? run + 1 : 0;
    longest = run > longest ? run : longest;
  }
  g_test_message("packets 600 ms apart, 30 %% loss in runs of 5: lost %.1f %%, longest run %u, mean run %.2f",
                 im.stats.lost / 200.0, longest, im.stats.lost / (double)im.stats.loss_runs);
  g_assert_cmpuint(longest, <=, 2);
  g_assert_cmpuint(im.stats.lost, >, 1000); /* it still loses */
}

/* 5 % of packets held back 30 ms: about that many, and later ones overtake them. */
static void test_reorder(void) {
  dc_impair im = make((dc_impair_config){.delay_us = 50000, .reorder = 0.05, .reorder_us = 30000}, 6);
  uint64_t due, prev = 0, inversions = 0;
  for (uint64_t i = 0; i < 100000; i++) {
    dc_impair_packet(&im, 0, i * 10000, 100, true, &due);
    inversions += due < prev;
    prev = due;
  }
  g_test_message("reordered %" G_GUINT64_FORMAT " of 100000, %" G_GUINT64_FORMAT " inversions seen",
                 im.stats.reordered, inversions);
  g_assert_cmpuint(im.stats.reordered, >, 4500);
  g_assert_cmpuint(im.stats.reordered, <, 5500);
  g_assert_cmpuint(inversions, >, 4000); /* a held packet is overtaken by the next ones */
}

/* Down means everything is lost and counted as such; up again, packets pass. */
static void test_outage(void) {
  dc_impair im = make((dc_impair_config){.rate_bps = 64000}, 7);
  uint64_t due;
  for (int i = 0; i < 100; i++)
    g_assert_cmpint(dc_impair_packet(&im, 0, (uint64_t)i * 20000, 100, false, &due), ==, DC_IMPAIR_OUTAGE);
  g_assert_cmpint(dc_impair_packet(&im, 0, 2000000, 100, true, &due), ==, DC_IMPAIR_PASS);
  g_assert_cmpuint(im.stats.outage_drops, ==, 100);
  g_assert_cmpuint(im.stats.passed, ==, 1);
}

/* The same seed loses the same packets; another seed, others. */
static void test_seeded(void) {
  dc_impair a = make((dc_impair_config){.loss = 0.1, .burst = 2}, 42), b = a,
            c = make((dc_impair_config){.loss = 0.1, .burst = 2}, 43);
  int same = 0, differ = 0;
  uint64_t due;
  for (uint64_t i = 0; i < 10000; i++) {
    dc_impair_fate fa = dc_impair_packet(&a, 0, i, 100, true, &due), fb = dc_impair_packet(&b, 0, i, 100, true, &due),
                   fc = dc_impair_packet(&c, 0, i, 100, true, &due);
    same += fa == fb;
    differ += fa != fc;
  }
  g_assert_cmpint(same, ==, 10000);
  g_assert_cmpint(differ, >, 500);
}

/* A flow's losses fall on the same of its packets whatever else crosses the link: the speech
 * stream of two runs whose joins sent different traffic meets the same bursts. Two runs of the
 * same seed, one with no other traffic and one with a varying amount of it between the
 * speech's packets; and each flow on its own still loses at the configured rate. */
static void test_flows_lose_on_their_own(void) {
  dc_impair_config cfg = {.loss = 0.1, .burst = 3};
  dc_impair alone = make(cfg, 12), busy = make(cfg, 12);
  uint64_t due, t = 0, speech_lost = 0, other_packets = 0, other_lost = 0;
  int same = 0;
  for (int i = 0; i < 20000; i++, t += 1000) {
    dc_impair_fate a = dc_impair_packet(&alone, 4, t, 100, true, &due);
    for (int k = 0; k < i % 5; k++) { /* the page, signaling: 0 to 4 packets between */
      other_packets++;
      other_lost += dc_impair_packet(&busy, 1, t, 1200, true, &due) == DC_IMPAIR_LOST;
    }
    dc_impair_fate b = dc_impair_packet(&busy, 4, t, 100, true, &due);
    same += a == b;
    speech_lost += a == DC_IMPAIR_LOST;
  }
  g_test_message("the speech flow: %d of 20000 packets met the same fate; lost %.2f %%; the other flow lost %.2f %%",
                 same, speech_lost / 200.0, 100.0 * (double)other_lost / (double)other_packets);
  g_assert_cmpint(same, ==, 20000);
  g_assert_cmpfloat(fabs(speech_lost / 200.0 - 10), <, 1.5);
  g_assert_cmpfloat(fabs(100.0 * (double)other_lost / (double)other_packets - 10), <, 1.5);
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/impair/rate-and-queue", test_rate_and_queue);
  g_test_add_func("/impair/queue-tail-drop", test_queue_tail_drop);
  g_test_add_func("/impair/delay-and-jitter", test_delay_and_jitter);
  g_test_add_func("/impair/random-loss", test_random_loss);
  g_test_add_func("/impair/burst-loss", test_burst_loss);
  g_test_add_func("/impair/fade-is-time", test_fade_is_time);
  g_test_add_func("/impair/reorder", test_reorder);
  g_test_add_func("/impair/outage", test_outage);
  g_test_add_func("/impair/seeded", test_seeded);
  g_test_add_func("/impair/flows-lose-on-their-own", test_flows_lose_on_their_own);
  return g_test_run();
}
