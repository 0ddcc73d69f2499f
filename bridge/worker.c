/* worker.c — media worker threads; see worker.h. */
#include "bridge/worker.h"

struct dc_worker {
  unsigned index;
  GMainContext *ctx;
  GMainLoop *loop;
  GThread *thread;
};

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
  for (unsigned i = 0; i < ws->n; i++) {
    dc_worker *w = &ws->w[i];
    g_main_context_invoke(w->ctx, quit, w->loop);
    g_thread_join(w->thread);
    /* run what is still pending (frees of agents handed to this thread) before the end */
    while (g_main_context_iteration(w->ctx, FALSE))
      ;
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
  g_main_context_invoke_full(w->ctx, G_PRIORITY_DEFAULT, fn, data, destroy);
}

gboolean dc_worker_is_current(dc_worker *w) { return g_main_context_is_owner(w->ctx); }
