/* worker.c — media worker threads; see worker.h.
 *
 * Work handed to a worker goes into its mailbox: a list under a mutex, drained by one GSource
 * of the worker's. g_main_context_invoke_full, which this replaced, made a GSource for every
 * call, attached it under the context's lock and woke the thread through its eventfd: for
 * every video packet to every receiver, and every mix packet. The mailbox wakes the thread
 * only when it goes from empty to not, and a wake-up drains all that came meanwhile. */
#include "bridge/worker.h"

#include <stdbool.h>

typedef struct {
  GSourceFunc fn;
  gpointer data;
  GDestroyNotify destroy;
} job;

typedef struct {
  GSource source;
  struct dc_worker *w;
} mailbox_source;

struct dc_worker {
  unsigned index;
  GMainContext *ctx;
  GMainLoop *loop;
  GThread *thread;
  GMutex lock;
  GArray *jobs;    /* job: handed in, not yet run (under lock) */
  GArray *running; /* job: the batch being run (the worker's alone) */
  gint pending;    /* jobs->len > 0, readable without the lock */
  GSource *mailbox;
};

static gboolean mailbox_ready(GSource *s, gint *timeout) {
  if (timeout)
    *timeout = -1;
  return g_atomic_int_get(&((mailbox_source *)s)->w->pending) != 0;
}

static gboolean mailbox_check(GSource *s) { return mailbox_ready(s, NULL); }

static void run_job(const job *j) {
  while (j->fn(j->data)) /* G_SOURCE_CONTINUE: again, as g_main_context_invoke did */
    ;
  if (j->destroy)
    j->destroy(j->data);
}

static gboolean mailbox_dispatch(GSource *s, GSourceFunc unused, gpointer unused_data) {
  (void)unused, (void)unused_data;
  struct dc_worker *w = ((mailbox_source *)s)->w;
  g_mutex_lock(&w->lock);
  GArray *batch = w->jobs;
  w->jobs = w->running;
  w->running = batch;
  g_atomic_int_set(&w->pending, 0);
  g_mutex_unlock(&w->lock);
  for (guint i = 0; i < batch->len; i++)
    run_job(&g_array_index(batch, job, i));
  g_array_set_size(batch, 0);
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs mailbox_funcs = {.prepare = mailbox_ready, .check = mailbox_check, .dispatch = mailbox_dispatch};

struct dc_workers {
  unsigned n;
  gint next;
  dc_worker *w;
};

static gpointer run(gpointer data) {
  dc_worker *w = data;
  g_main_context_push_thread_default(w->ctx);
  g_main_loop_run(w->loop);
  g_main_context_pop_thread_default(w->ctx);
  return NULL;
}

dc_workers *dc_workers_new(unsigned count) {
  dc_workers *ws = g_new0(dc_workers, 1);
  ws->n = count ? count : g_get_num_processors();
  ws->w = g_new0(dc_worker, ws->n);
  for (unsigned i = 0; i < ws->n; i++) {
    dc_worker *w = &ws->w[i];
    w->index = i;
    w->ctx = g_main_context_new();
    w->loop = g_main_loop_new(w->ctx, FALSE);
    g_mutex_init(&w->lock);
    w->jobs = g_array_sized_new(FALSE, FALSE, sizeof(job), 256);
    w->running = g_array_sized_new(FALSE, FALSE, sizeof(job), 256);
    w->mailbox = g_source_new(&mailbox_funcs, sizeof(mailbox_source));
    ((mailbox_source *)w->mailbox)->w = w;
    g_source_set_priority(w->mailbox, G_PRIORITY_DEFAULT);
    g_source_attach(w->mailbox, w->ctx);
    char name[16];
    g_snprintf(name, sizeof name, "dc-media-%u", i);
    w->thread = g_thread_new(name, run, w);
  }
  return ws;
}

static gboolean quit(gpointer data) {
  g_main_loop_quit(data);
  return G_SOURCE_REMOVE;
}

void dc_workers_free(dc_workers *ws) {
  if (!ws)
    return;
  /* Every thread stops before any worker's mailbox goes: a worker still running hands packets
   * to the others (a delivery, a close), and one freed while another still ran was written
   * after its end. */
  for (unsigned i = 0; i < ws->n; i++) {
    g_main_context_invoke(ws->w[i].ctx, quit, ws->w[i].loop);
    g_thread_join(ws->w[i].thread);
  }
  /* Then what is still pending runs here (frees of agents handed to the threads), until a
   * pass finds nothing: running one worker's work may hand some to another. */
  for (bool ran = true; ran;) {
    ran = false;
    for (unsigned i = 0; i < ws->n; i++)
      while (g_main_context_iteration(ws->w[i].ctx, FALSE))
        ran = true;
  }
  for (unsigned i = 0; i < ws->n; i++) {
    dc_worker *w = &ws->w[i];
    g_source_destroy(w->mailbox);
    g_source_unref(w->mailbox);
    for (guint j = 0; j < w->jobs->len; j++) { /* none now; as a destroyed source's, were there one */
      job *jb = &g_array_index(w->jobs, job, j);
      if (jb->destroy)
        jb->destroy(jb->data);
    }
    g_array_unref(w->jobs);
    g_array_unref(w->running);
    g_mutex_clear(&w->lock);
    g_main_loop_unref(w->loop);
    g_main_context_unref(w->ctx);
  }
  g_free(ws->w);
  g_free(ws);
}

unsigned dc_workers_count(const dc_workers *ws) { return ws->n; }

dc_worker *dc_workers_pick(dc_workers *ws) {
  unsigned i = (unsigned)g_atomic_int_add(&ws->next, 1) % ws->n;
  return &ws->w[i];
}

GMainContext *dc_worker_context(dc_worker *w) { return w->ctx; }
unsigned dc_worker_index(const dc_worker *w) { return w->index; }

void dc_worker_invoke(dc_worker *w, GSourceFunc fn, gpointer data, GDestroyNotify destroy) {
  job j = {fn, data, destroy};
  if (g_main_context_is_owner(w->ctx)) {
    run_job(&j);
    return;
  }
  g_mutex_lock(&w->lock);
  g_array_append_val(w->jobs, j);
  bool wake = w->jobs->len == 1; /* else a wake-up is on its way, or the batch runs now */
  if (wake)
    g_atomic_int_set(&w->pending, 1);
  g_mutex_unlock(&w->lock);
  if (wake)
    g_main_context_wakeup(w->ctx);
}

gboolean dc_worker_is_current(dc_worker *w) { return g_main_context_is_owner(w->ctx); }
