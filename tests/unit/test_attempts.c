/* Unit tests for signaling/attempts: a burst of failures, then one per refill, per address. */
#include <glib.h>

#include "signaling/attempts.h"

static void test_bucket(void) {
  dc_attempts *a = dc_attempts_new(5, 1000);
  int64_t t = 1000000;
  for (int i = 0; i < 5; i++) {
    g_assert_true(dc_attempts_allowed(a, "198.51.100.7", t));
    dc_attempts_failed(a, "198.51.100.7", t);
  }
  g_assert_false(dc_attempts_allowed(a, "198.51.100.7", t)); /* the burst is spent */
  g_assert_true(dc_attempts_allowed(a, "198.51.100.8", t)); /* another address is not */
  g_assert_false(dc_attempts_allowed(a, "198.51.100.7", t + 999));
  g_assert_true(dc_attempts_allowed(a, "198.51.100.7", t + 1000)); /* one more a second */
  dc_attempts_failed(a, "198.51.100.7", t + 1000);
  g_assert_false(dc_attempts_allowed(a, "198.51.100.7", t + 1500));
  g_assert_cmpuint(dc_attempts_tracked(a), ==, 1);
  dc_attempts_prune(a, t + 3000); /* not whole yet */
  g_assert_cmpuint(dc_attempts_tracked(a), ==, 1);
  dc_attempts_prune(a, t + 6000); /* whole again: forgotten */
  g_assert_cmpuint(dc_attempts_tracked(a), ==, 0);
  g_assert_true(dc_attempts_allowed(a, NULL, t));
  dc_attempts_free(a);
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/attempts/bucket", test_bucket);
  return g_test_run();
}
