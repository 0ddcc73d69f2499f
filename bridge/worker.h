/* worker.h — media worker threads. Each runs a GMainLoop on a GMainContext of its own and
 * owns the libnice agents, DTLS and SRTP state of the participants assigned to it, so their
 * per-packet work needs no lock. Work crosses threads only by dc_worker_invoke. */
#ifndef DC_WORKER_H
#define DC_WORKER_H

#include <glib.h>

typedef struct dc_worker dc_worker;
typedef struct dc_workers dc_workers;

dc_workers *dc_workers_new(unsigned count); /* 0 = one per core */
void dc_workers_free(dc_workers *ws);       /* stops and joins every thread */
unsigned dc_workers_count(const dc_workers *ws);
/* The next worker in turn, for a new participant. */
dc_worker *dc_workers_pick(dc_workers *ws);

GMainContext *dc_worker_context(dc_worker *w);
unsigned dc_worker_index(const dc_worker *w);
/* Runs fn(data) on w's thread; at once if the caller is that thread. */
void dc_worker_invoke(dc_worker *w, GSourceFunc fn, gpointer data, GDestroyNotify destroy);
gboolean dc_worker_is_current(dc_worker *w);

#endif
