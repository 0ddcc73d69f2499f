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

long dc_test_rss_kib(GPid pid) {
  char *path = g_strdup_printf("/proc/%d/status", pid), *text = NULL;
  long kib = -1;
  if (g_file_get_contents(path, &text, NULL, NULL)) {
    const char *line = strstr(text, "VmRSS:");
    if (line)
      kib = strtol(line + 6, NULL, 10);
  }
  g_free(path);
  g_free(text);
  return kib;
}

int dc_test_open_fds(GPid pid) {
  char *path = g_strdup_printf("/proc/%d/fd", pid);
  GDir *d = g_dir_open(path, 0, NULL);
  g_free(path);
  if (!d)
    return -1;
  int n = 0;
  while (g_dir_read_name(d)) /* without . and .. */
    n++;
  g_dir_close(d);
  return n;
}
