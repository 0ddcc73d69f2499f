/* Unit tests for signaling/rtt_hist: the median round trip of a stay in constant memory. */
#include <glib.h>

#include "signaling/rtt_hist.h"

static int cmp(gconstpointer a, gconstpointer b) { return *(const int *)a - *(const int *)b; }

/* Against the exact median of the same samples: equal below 100 ms, else the floor of its
 * bucket (at most 10 % under it, never over). */
static void test_against_exact(void) {
  GRand *rand = g_rand_new_with_seed(7);
  for (int round = 0; round < 200; round++) {
    dc_rtt_hist h = {0};
    GArray *v = g_array_new(FALSE, FALSE, sizeof(int));
    int n = g_rand_int_range(rand, 1, 3000), base = g_rand_int_range(rand, 0, 900), spread = g_rand_int_range(rand, 1, 400);
    for (int i = 0; i < n; i++) {
      int ms = base + g_rand_int_range(rand, 0, spread) + (g_rand_int_range(rand, 0, 50) == 0 ? 5000 : 0);
      dc_rtt_hist_add(&h, ms);
      g_array_append_val(v, ms);
    }
    g_array_sort(v, cmp);
    int exact = g_array_index(v, int, v->len / 2), got = dc_rtt_hist_median(&h);
    if (exact < 100)
      g_assert_cmpint(got, ==, exact);
    g_assert_cmpint(got, <=, exact);
    g_assert_cmpint(got, >=, exact - exact / 10);
    g_array_unref(v);
  }
  g_rand_free(rand);
}

static void test_edges(void) {
  dc_rtt_hist h = {0};
  g_assert_cmpint(dc_rtt_hist_median(&h), ==, -1);
  dc_rtt_hist_add(&h, -1); /* not known: not counted */
  g_assert_cmpint(dc_rtt_hist_median(&h), ==, -1);
  dc_rtt_hist_add(&h, 0);
  g_assert_cmpint(dc_rtt_hist_median(&h), ==, 0);
  dc_rtt_hist_add(&h, 60000);
  dc_rtt_hist_add(&h, 60000); /* far over the top: the last bucket */
  g_assert_cmpint(dc_rtt_hist_median(&h), ==, 10000);
  /* each bucket's edges, alone: the floor of its bucket */
  const int ms[] = {99, 100, 109, 110, 999, 1000, 1099, 9999}, floor[] = {99, 100, 100, 110, 990, 1000, 1000, 9900};
  for (size_t i = 0; i < G_N_ELEMENTS(ms); i++) {
    dc_rtt_hist one = {0};
    dc_rtt_hist_add(&one, ms[i]);
    g_assert_cmpint(dc_rtt_hist_median(&one), ==, floor[i]);
  }
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/rtt-hist/against-exact", test_against_exact);
  g_test_add_func("/rtt-hist/edges", test_edges);
  return g_test_run();
}
