/* The mix clock's effort (bridge/audio.c, dc_mix_effort): encoders at reduced effort once
 * mixing takes more than half the clock's time over a second, back after ten seconds in a
 * row under a quarter, and never flapping in between. */
#include <glib.h>

#include "bridge/room_private.h"

/* A second of 50 ticks each taking busy_pct of its 20 ms; returns the share the clock
 * reported when the second closed (-1 if none did). */
static int second_at(dc_mix_effort *e, uint64_t *now, unsigned busy_pct) {
  int share = -1;
  for (int i = 0; i < 50; i++) {
    *now += 20000;
    int s = dc_mix_effort_tick(e, *now, 20000u * busy_pct / 100);
    if (s >= 0)
      share = s;
  }
  return share;
}

static void test_busy_reduces_and_calm_restores(void) {
  dc_mix_effort e = {0};
  uint64_t now = 5000000;
  g_assert_cmpint(dc_mix_effort_tick(&e, now, 0), ==, -1); /* the first second starts */
  for (int s = 0; s < 5; s++) /* 40 %: full effort */
    second_at(&e, &now, 40);
  g_assert_false(e.reduced);
  int share = second_at(&e, &now, 70);
  g_test_message("a second at 70 %%: reported %d %%, reduced %d", share, e.reduced);
  g_assert_cmpint(share, >=, 65);
  g_assert_cmpint(share, <=, 75);
  g_assert_true(e.reduced);
  /* at reduced effort the same load is ~45 %: above the calm mark, so it stays reduced */
  for (int s = 0; s < 30; s++)
    second_at(&e, &now, 45);
  g_assert_true(e.reduced);
  /* nine calm seconds, then one busy enough to break the run, then ten */
  for (int s = 0; s < 9; s++)
    second_at(&e, &now, 10);
  g_assert_true(e.reduced);
  second_at(&e, &now, 30);
  for (int s = 0; s < 9; s++)
    second_at(&e, &now, 10);
  g_assert_true(e.reduced);
  second_at(&e, &now, 10);
  g_test_message("after ten calm seconds: reduced %d", e.reduced);
  g_assert_false(e.reduced);
}

static void test_overrun_reports_over_a_hundred(void) {
  dc_mix_effort e = {0};
  uint64_t now = 1000000;
  int share = -1;
  /* ticks of 30 ms, back to back: the clock cannot keep its 20 */
  for (int i = 0; i < 80 && share < 0; i++) {
    now += 30000;
    int s = dc_mix_effort_tick(&e, now, 30000);
    if (i > 0 && s >= 0)
      share = s;
  }
  g_test_message("ticks of 30 ms back to back: %d %%", share);
  g_assert_cmpint(share, >=, DC_MIX_EFFORT_LATE);
  g_assert_true(e.reduced);
}

/* A clock that went back (it cannot, but the policy must not divide by it) starts afresh. */
static void test_time_going_back_starts_afresh(void) {
  dc_mix_effort e = {0};
  g_assert_cmpint(dc_mix_effort_tick(&e, 10000000, 100), ==, -1);
  g_assert_cmpint(dc_mix_effort_tick(&e, 9000000, 100), ==, -1);
  g_assert_cmpint(dc_mix_effort_tick(&e, 9500000, 400000), ==, -1);
  g_assert_cmpint(dc_mix_effort_tick(&e, 10000000, 100000), ==, 50);
  g_assert_false(e.reduced); /* 50 is not above the mark */
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/mix-effort/busy-reduces-and-calm-restores", test_busy_reduces_and_calm_restores);
  g_test_add_func("/mix-effort/overrun-reports-over-a-hundred", test_overrun_reports_over_a_hundred);
  g_test_add_func("/mix-effort/time-going-back-starts-afresh", test_time_going_back_starts_afresh);
  return g_test_run();
}
