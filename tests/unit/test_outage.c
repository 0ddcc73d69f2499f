/* When a participant's silence is an outage of its link (bridge/feedback.c, dc_heard_packet):
 * longer than OUTAGE_GAP_US for a point that sends its audio whole, longer than
 * SPARSE_OUTAGE_GAP_US for one that sends little (DTX), judged by the pace it kept before the
 * silence. */
#include <glib.h>

#include "bridge/room_private.h"

#define MS ((uint64_t)1000)

/* Packets every `every` ms from `from` to `to` (ms); the outages they were heard as. */
static unsigned packets(dc_heard *h, uint64_t from, uint64_t to, uint64_t every) {
  unsigned outages = 0;
  for (uint64_t t = from; t < to; t += every)
    outages += dc_heard_packet(h, t * MS) != 0;
  return outages;
}

static void test_whole_audio_out_after_two_seconds(void) {
  dc_heard h = {0};
  g_assert_cmpuint(packets(&h, 1000, 11000, 20), ==, 0); /* 50 packets a second */
  g_assert_cmpuint(h.pace_pps, >=, 45);
  /* 1.5 s of nothing: a fade, not an outage */
  g_assert_cmpuint(dc_heard_packet(&h, 12500 * MS), ==, 0);
  g_assert_cmpuint(packets(&h, 12520, 20000, 20), ==, 0);
  /* 2.5 s: an outage, and it says how long */
  unsigned pace = h.pace_pps;
  uint64_t silent = dc_heard_packet(&h, 22500 * MS);
  g_test_message("a point at %u packets a second, silent 2.5 s: an outage of %" G_GUINT64_FORMAT " ms", pace,
                 silent / MS);
  g_assert_cmpuint(silent, ==, 2520 * MS);
}

static void test_sparse_point_rides_out_its_fades(void) {
  dc_heard h = {0};
  /* a listening page's DTX and reports: about 3 packets a second */
  g_assert_cmpuint(packets(&h, 1000, 11000, 330), ==, 0);
  g_test_message("a quiet point's pace: %u packets a second", h.pace_pps);
  g_assert_cmpuint(h.pace_pps, <, SPARSE_PPS);
  /* two or three of them lost in a row on a fade (the lab saw 2.2-3.4 s): no outage */
  g_assert_cmpuint(dc_heard_packet(&h, 14400 * MS), ==, 0);
  g_assert_cmpuint(packets(&h, 14730, 20000, 330), ==, 0);
  /* the link down 6 s: an outage all the same */
  g_assert_cmpuint(dc_heard_packet(&h, 26300 * MS), >, SPARSE_OUTAGE_GAP_US);
}

static void test_first_second_by_the_whole_rule(void) {
  dc_heard h = {0};
  g_assert_cmpuint(dc_heard_packet(&h, 1000 * MS), ==, 0); /* the first packet: nothing before it */
  g_assert_cmpuint(h.pace_pps, ==, 0);
  g_assert_cmpuint(dc_heard_packet(&h, 3500 * MS), ==, 2500 * MS); /* no pace known yet: 2 s */
}

/* A point that starts to speak after holding its quiet: its pace follows within a second. */
static void test_pace_follows_the_point(void) {
  dc_heard h = {0};
  g_assert_cmpuint(packets(&h, 1000, 8000, 400), ==, 0);
  g_assert_cmpuint(h.pace_pps, <, SPARSE_PPS);
  g_assert_cmpuint(packets(&h, 8000, 12000, 60), ==, 0); /* 60 ms frames whole: ~17 a second */
  g_assert_cmpuint(h.pace_pps, >=, SPARSE_PPS);
  g_assert_cmpuint(dc_heard_packet(&h, 14500 * MS), !=, 0);
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/outage/whole-audio-out-after-two-seconds", test_whole_audio_out_after_two_seconds);
  g_test_add_func("/outage/sparse-point-rides-out-its-fades", test_sparse_point_rides_out_its_fades);
  g_test_add_func("/outage/first-second-by-the-whole-rule", test_first_second_by_the_whole_rule);
  g_test_add_func("/outage/pace-follows-the-point", test_pace_follows_the_point);
  return g_test_run();
}
