/* worker: work handed to a media worker runs there, once, in the order handed in, from any
 * number of threads at once; at once when the worker hands work to itself; and nothing is
 * lost or run twice when the workers stop. */
#include "bridge/worker.h"

#include <stdbool.h>

typedef struct {
  dc_worker *w;
  GThread *ran_on; /* set by the first job */
  gint ran, destroyed, order_errors;
  int next_from[8]; /* the worker's: the next sequence number expected from each producer */
} state;

typedef struct {
  state *st;
  int producer, seq;
  int again; /* times to ask to be run again */
} job_data;

static gboolean job(gpointer data) {
  job_data *j = data;
  state *st = j->st;
  if (j->again > 0) {
    j->again--;
    return G_SOURCE_CONTINUE;
  }
  if (!dc_worker_is_current(st->w))
    g_atomic_int_inc(&st->order_errors); /* not on its worker */
  if (st->next_from[j->producer] != j->seq)
    g_atomic_int_inc(&st->order_errors);
  st->next_from[j->producer] = j->seq + 1;
  g_atomic_int_inc(&st->ran);
  return G_SOURCE_REMOVE;
}

static void job_free(gpointer data) {
  job_data *j = data;
  g_atomic_int_inc(&j->st->destroyed);
  g_free(j);
}

enum { PRODUCERS = 4, JOBS = 50000 };

typedef struct {
  state *st;
  int producer;
} producer_arg;

static gpointer produce(gpointer data) {
  producer_arg *a = data;
  for (int i = 0; i < JOBS; i++) {
    job_data *j = g_new0(job_data, 1);
    *j = (job_data){a->st, a->producer, i, i % 1000 == 0 ? 2 : 0};
    dc_worker_invoke(a->st->w, job, j, job_free);
  }
  return NULL;
}

static void test_many_threads_in_order(void) {
  dc_workers *ws = dc_workers_new(2);
  state st = {.w = dc_workers_pick(ws)};
  GThread *threads[PRODUCERS];
  producer_arg args[PRODUCERS];
  for (int p = 0; p < PRODUCERS; p++) {
    args[p] = (producer_arg){&st, p};
    threads[p] = g_thread_new("producer", produce, &args[p]);
  }
  for (int p = 0; p < PRODUCERS; p++)
    g_thread_join(threads[p]);
  gint64 end = g_get_monotonic_time() + 30 * G_USEC_PER_SEC;
  while (g_atomic_int_get(&st.ran) < PRODUCERS * JOBS && g_get_monotonic_time() < end)
    g_usleep(1000);
  g_test_message("%d of %d jobs ran, %d freed, %d out of order or off their worker", g_atomic_int_get(&st.ran),
                 PRODUCERS * JOBS, g_atomic_int_get(&st.destroyed), g_atomic_int_get(&st.order_errors));
  g_assert_cmpint(g_atomic_int_get(&st.ran), ==, PRODUCERS * JOBS);
  g_assert_cmpint(g_atomic_int_get(&st.order_errors), ==, 0);
  dc_workers_free(ws);
  g_assert_cmpint(st.destroyed, ==, PRODUCERS * JOBS);
}

/* A worker handing work to itself runs it at once (the bridge relies on it: a close from the
 * worker's own callback must not outlive the callback). */
typedef struct {
  dc_worker *w;
  gint inner_ran;
  bool inner_ran_first;
} self_state;

static gboolean inner(gpointer data) {
  g_atomic_int_set(&((self_state *)data)->inner_ran, 1);
  return G_SOURCE_REMOVE;
}

static gboolean outer(gpointer data) {
  self_state *s = data;
  dc_worker_invoke(s->w, inner, s, NULL);
  s->inner_ran_first = g_atomic_int_get(&s->inner_ran);
  return G_SOURCE_REMOVE;
}

static void test_self_runs_at_once(void) {
  dc_workers *ws = dc_workers_new(1);
  self_state s = {.w = dc_workers_pick(ws)};
  dc_worker_invoke(s.w, outer, &s, NULL);
  gint64 end = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
  while (!g_atomic_int_get(&s.inner_ran) && g_get_monotonic_time() < end)
    g_usleep(1000);
  dc_workers_free(ws);
  g_assert_true(s.inner_ran_first);
}

/* Work handed in as the workers stop is run or freed, never both, never neither. */
static gboolean slow(gpointer data) {
  g_usleep(200);
  return job(data);
}

static void test_stop_loses_nothing(void) {
  dc_workers *ws = dc_workers_new(2);
  state st = {.w = dc_workers_pick(ws)};
  for (int i = 0; i < 2000; i++) {
    job_data *j = g_new0(job_data, 1);
    *j = (job_data){&st, 0, i, 0};
    dc_worker_invoke(st.w, i % 2 ? slow : job, j, job_free);
  }
  dc_workers_free(ws); /* at once: most are still waiting */
  g_test_message("%d of 2000 jobs ran before the stop; %d freed", st.ran, st.destroyed);
  g_assert_cmpint(st.destroyed, ==, 2000);
  g_assert_cmpint(st.order_errors, ==, 0);
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/worker/many-threads-in-order", test_many_threads_in_order);
  g_test_add_func("/worker/self-runs-at-once", test_self_runs_at_once);
  g_test_add_func("/worker/stop-loses-nothing", test_stop_loses_nothing);
  return g_test_run();
}
