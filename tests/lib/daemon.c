/* daemon.c — see daemon.h. */
#include "tests/lib/daemon.h"

#include <signal.h>
#include <sys/prctl.h>

void dc_test_die_with_parent(gpointer unused) {
  (void)unused;
  prctl(PR_SET_PDEATHSIG, SIGTERM);
}

bool dc_test_spin_until_named(bool (*pred)(void), int ms, const char *what) {
  gint64 start = g_get_monotonic_time(), end = start + (gint64)ms * 1000;
  while (!pred() && g_get_monotonic_time() < end)
    g_main_context_iteration(NULL, FALSE), g_usleep(500);
  bool ok = pred();
  g_test_message("%s: %s after %.2f s (ceiling %.1f s)", what, ok ? "held" : "did NOT hold",
                 (g_get_monotonic_time() - start) / 1e6, ms / 1000.0);
  return ok;
}

void dc_test_spin_for(int ms) {
  gint64 end = g_get_monotonic_time() + (gint64)ms * 1000;
  while (g_get_monotonic_time() < end)
    g_main_context_iteration(NULL, FALSE), g_usleep(500);
}

void dc_test_assert_stops_cleanly(GSubprocess *daemon) {
  g_subprocess_send_signal(daemon, SIGTERM);
  GError *err = NULL;
  g_assert_true(g_subprocess_wait(daemon, NULL, &err));
  g_assert_no_error(err);
  g_assert_true(g_subprocess_get_if_exited(daemon));
  g_assert_cmpint(g_subprocess_get_exit_status(daemon), ==, 0);
}
