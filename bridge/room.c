/* room.c — participants, transports, the mixer and the video router at work; see room.h. */
#include "bridge/room.h"

#include <string.h>
#include <time.h>

#include "media/mixer.h"
#include "media/repair.h"
#include "media/router.h"
#include "media/rtcp.h"
#include "media/rtp.h"
#include "media/sdp.h"

#define MAX_SLOTS 9
#define HIGHEST_LAYER G_MAXINT
#define PLI_INTERVAL_US 500000 /* a source is asked for a key frame at most this often: each one
                                 * costs a thin receiver half a second of its link */
/* Packets waiting for one receiver's worker. A worker that falls this far behind (about a
 * second of a full meeting's media) drops what comes next, as a lossy link would, rather
 * than queueing without bound. */
#define MAX_PENDING 1024
#define TICK_MS 500               /* each participant's housekeeping: rates, reports */
#define NACK_RETRY_US 100000      /* ask a sender again for a packet after this long */
#define REPAIR_AGE_US 1000000     /* packets are cached, and asked for, this long */
#define CACHE_MAX_BYTES (1 << 20)
#define REPAIRS_PER_TICK 200      /* a receiver's NACKs answered per TICK_MS, at most */
#define MAIN_OFF_TICKS 10         /* 5 s of not fitting before a main slot turns off */
/* ICE and DTLS normally take well under a second; a browser behind blocked UDP never gets
 * there, and is told so instead of holding a place in everyone's slots. */
#define DC_CONNECT_TIMEOUT_S 20

/* Bandwidth by link profile (dc_tier order): what a receiver is assumed to take before any
 * feedback, the most its estimate may grow to, and what a source is allowed to send (our
 * REMB to it). Highland: the lowest simulcast layer plus audio on a 256 kbit/s link. */
static const struct {
  uint64_t initial_bps, ceiling_bps, send_bps;
  uint64_t audio_bps; /* the tier's mix on the wire (media/mixer), kept from the estimate */
} link_profiles[DC_TIER_COUNT] = {
    [DC_TIER_HALL] = {3000000, 10000000, 2500000, 48000 + 24000},
    [DC_TIER_STANDARD] = {1500000, 4000000, 1200000, 32000 + 24000},
    [DC_TIER_HIGHLAND] = {200000, 500000, 200000, 14000 + 8000},
};
#define BWE_FLOOR_BPS 30000

typedef struct {
  int section;       /* offer section carrying this slot, -1 when unused */
  uint32_t ssrc;     /* ours */
  uint8_t pt;        /* the receiver's payload type for the codec */
  dc_rtp_ext_ids ext; /* the receiver's extension ids */
  /* routing: written on the main thread under the room's writer lock */
  int64_t source;    /* participant feeding the slot, 0 = none */
  int want_layer;    /* a layer index; HIGHEST_LAYER: the highest arriving (not chosen yet) */
  bool off;          /* the receiver's bandwidth does not fit this slot now */
  int off_votes;     /* layer choices in a row that found it does not fit */
  dc_upgrade_guard guard; /* the main slot's moves up a layer (main thread) */
  int rtx_pt;        /* the receiver's RTX payload type, -1 without RTX */
  uint32_t rtx_ssrc;
  uint16_t rtx_seq;  /* the receiver's worker only */
  /* audio continuity: the receiver's worker only */
  bool started;
  uint16_t last_seq;
  uint32_t last_ts;
  /* video: continuity and key-frame switching (media/router), the receiver's worker only;
   * what it plays now is published for the sources' workers (atomics) */
  dc_slot core;
  dc_leg_loss leg; /* the receiver's worker: its reports, less the sources' own losses */
  gpointer playing_source; /* participant id, as a pointer-sized atomic */
  gint playing_layer;
} slot;

struct dc_participant {
  gint refs;
  int64_t id;
  char *name;
  dc_room *room;
  dc_transport *transport;
  dc_worker *worker;
  dc_participant_events ev;
  gpointer user;
  bool left;   /* main thread */
  bool connected; /* main thread: its media is up; only then does it fill others' slots */
  GSource *connect_timer; /* main thread: gives up on a transport that never connects */
  int64_t last_spoke_us; /* main thread: when the mixer last named it the dominant speaker */
  bool closed; /* worker thread: the transport is gone */
  gint muted;
  gint pending;  /* deliveries queued for this receiver's worker */
  dc_tier tier;
  int64_t told[MAX_SLOTS]; /* main thread: the slot map last sent to it */
  bool told_once;
  int mix_slot;  /* in the room's mixer; -1 until the offer is accepted */
  gint dropped;  /* deliveries refused because the queue was full */
  dc_sdp *offer;
  dc_sdp_negotiation *neg;
  /* as a source (its own worker) */
  int audio_pt, video_pt;
  dc_rtp_ext_ids audio_ext, video_ext;
  int n_layers;
  char rids[DC_SDP_MAX_LAYERS][DC_RTP_ID_MAX + 1];
  uint32_t layer_ssrc[DC_SDP_MAX_LAYERS], rtx_ssrc[DC_SDP_MAX_LAYERS];
  int64_t layer_seen_us[DC_SDP_MAX_LAYERS]; /* when each layer last arrived */
  int64_t last_pli_us;
  int rtx_pt;                  /* the source's RTX payload type, -1 without */
  bool nack_upstream;          /* the source takes our NACKs */
  bool remb_upstream;          /* and our REMB */
  unsigned video_fb;           /* DC_FB_* it negotiated for its camera */
  uint8_t fir_seq;             /* RFC 5104 §4.3.1.1: one more per new request */
  dc_rx_stream layer_rx[DC_SDP_MAX_LAYERS], audio_rx;
  dc_packet_cache *cache;      /* its recent video, for receivers' NACKs */
  uint64_t layer_bytes[DC_SDP_MAX_LAYERS]; /* since the last tick */
  gint layer_kbps[DC_SDP_MAX_LAYERS];      /* published each tick, for the layer choice */
  int64_t last_tick_us;
  unsigned ticks;
  GSource *timer;              /* the worker's housekeeping tick */
  uint32_t rtcp_ssrc;          /* ours, as the sender of reports and feedback to it */
  /* as a receiver */
  slot audio;
  slot video[MAX_SLOTS];
  int n_video;
  dc_bwe bwe;          /* its worker only */
  uint64_t sent_bytes; /* to it, since the last tick (its worker) */
  uint64_t sent_bps;   /* smoothed over about a second */
  unsigned last_loss;  /* in its last report on our streams, 1/256 */
  gint estimate_kbps;  /* published for the layer choice */
  int repairs;         /* answered this tick (its worker) */
  int repairs_sent;    /* in all (its worker) */
  gint repairs_refused;
};

/* Lock order: room lock, then mix_lock. The mixer is not thread-safe: sources' workers
 * push into it and the clock thread ticks it, each under mix_lock, briefly. */
struct dc_room {
  dc_bridge *bridge;
  int64_t meeting;
  GRWLock lock;
  GPtrArray *members; /* dc_participant*, in join order; main thread writes */
  GMutex mix_lock;
  dc_mixer *mixer;
  int64_t speaker; /* clock thread: the dominant speaker last reported */
  int64_t pinned;  /* main thread: the host's pin, 0 for none */
};

static void reroute_and_tell(dc_room *r);
static void tell_slots(dc_room *r);

struct dc_bridge {
  dc_workers *workers;
  dc_dtls_identity *identity;
  dc_transport_config transport;
  unsigned max_room, talkers;
  unsigned connect_timeout_s;
  dc_speaker_fn on_speaker;
  gpointer speaker_user;
  GHashTable *rooms;
  GMainContext *main;
  GMutex rooms_lock; /* the clock thread walks room_list */
  GPtrArray *room_list;
  GThread *clock;
  gint stop;      /* the mix clock ends */
  bool stopping;  /* main thread: dc_bridge_stop was called; leaves tell nobody */
  GSource *layer_timer; /* main thread: the layer choice */
};

static gpointer mix_clock(gpointer data);
static gboolean choose_layers_all(gpointer data);

static dc_participant *ref(dc_participant *p) {
  g_atomic_int_inc(&p->refs);
  return p;
}

static void unref(gpointer data) {
  dc_participant *p = data;
  if (!g_atomic_int_dec_and_test(&p->refs))
    return;
  dc_sdp_negotiation_free(p->neg);
  dc_sdp_free(p->offer);
  dc_packet_cache_free(p->cache);
  g_free(p->name);
  g_free(p);
}

/* ---- bridge and rooms ---- */

static void free_room(gpointer data) {
  dc_room *r = data;
  g_ptr_array_unref(r->members);
  g_rw_lock_clear(&r->lock);
  dc_mixer_free(r->mixer);
  g_mutex_clear(&r->mix_lock);
  g_free(r);
}

dc_bridge *dc_bridge_new(const dc_bridge_config *cfg, GError **error) {
  dc_dtls_identity *id = dc_dtls_identity_new("diemcau-bridge", error);
  if (!id)
    return NULL;
  dc_bridge *b = g_new0(dc_bridge, 1);
  b->identity = id;
  b->transport = cfg->transport;
  b->transport.local_addresses = g_strdupv(cfg->transport.local_addresses);
  b->transport.stun_host = g_strdup(cfg->transport.stun_host);
  b->transport.turn_host = g_strdup(cfg->transport.turn_host);
  b->transport.turn_user = g_strdup(cfg->transport.turn_user);
  b->transport.turn_password = g_strdup(cfg->transport.turn_password);
  b->transport.public_address = g_strdup(cfg->transport.public_address);
  b->workers = dc_workers_new(cfg->workers);
  b->max_room = cfg->max_room ? cfg->max_room : 512;
  b->talkers = cfg->talkers ? MIN(cfg->talkers, DC_MIX_MAX_TALKERS) : 3;
  b->connect_timeout_s = cfg->connect_timeout_s ? cfg->connect_timeout_s : DC_CONNECT_TIMEOUT_S;
  b->on_speaker = cfg->on_speaker;
  b->speaker_user = cfg->speaker_user;
  b->rooms = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, free_room);
  b->main = g_main_context_ref_thread_default();
  g_mutex_init(&b->rooms_lock);
  b->room_list = g_ptr_array_new();
  b->clock = g_thread_new("dc-mix-clock", mix_clock, b);
  b->layer_timer = g_timeout_source_new(TICK_MS);
  g_source_set_callback(b->layer_timer, choose_layers_all, b, NULL);
  g_source_attach(b->layer_timer, b->main);
  return b;
}

void dc_bridge_stop(dc_bridge *b) {
  if (b->stopping)
    return;
  b->stopping = true;
  /* The clock first: after this no mix is made and no speaker event is posted, so what
   * follows (every participant leaving) races with nothing but the workers' forwarding,
   * which only reads rooms under the reader lock and never calls back into the main thread. */
  g_atomic_int_set(&b->stop, 1);
  g_thread_join(b->clock);
  b->clock = NULL;
  g_source_destroy(b->layer_timer);
}

void dc_bridge_free(dc_bridge *b) {
  if (!b)
    return;
  dc_bridge_stop(b);
  g_source_unref(b->layer_timer);
  dc_workers_free(b->workers); /* runs pending transport closes before the threads end */
  g_ptr_array_unref(b->room_list);
  g_mutex_clear(&b->rooms_lock);
  g_hash_table_unref(b->rooms);
  dc_dtls_identity_unref(b->identity);
  g_strfreev(b->transport.local_addresses);
  g_free(b->transport.stun_host);
  g_free(b->transport.turn_host);
  g_free(b->transport.turn_user);
  g_free(b->transport.turn_password);
  g_free(b->transport.public_address);
  g_main_context_unref(b->main);
  g_free(b);
}

const char *dc_bridge_fingerprint(const dc_bridge *b) {
  return dc_dtls_identity_fingerprint(b->identity);
}

dc_room *dc_bridge_room(dc_bridge *b, int64_t meeting_id) {
  dc_room *r = g_hash_table_lookup(b->rooms, &meeting_id);
  if (!r) {
    r = g_new0(dc_room, 1);
    r->bridge = b;
    r->meeting = meeting_id;
    g_rw_lock_init(&r->lock);
    r->members = g_ptr_array_new_with_free_func(unref);
    g_mutex_init(&r->mix_lock);
    dc_mixer_config mc = {.max_participants = b->max_room, .talkers = b->talkers};
    r->mixer = dc_mixer_new(&mc, NULL);
    g_hash_table_insert(b->rooms, g_memdup2(&meeting_id, sizeof meeting_id), r);
    g_mutex_lock(&b->rooms_lock);
    g_ptr_array_add(b->room_list, r);
    g_mutex_unlock(&b->rooms_lock);
  }
  return r;
}

unsigned dc_room_size(const dc_room *r) { return r->members->len; }

/* Order of the other participants for a receiver's slots: most recent speaker first (the
 * dominant one has the newest time), never-speakers after, in join order. */
static int by_recent_speech(gconstpointer a, gconstpointer b) {
  const dc_participant *x = *(dc_participant *const *)a, *y = *(dc_participant *const *)b;
  return x->last_spoke_us == y->last_spoke_us ? 0 : x->last_spoke_us > y->last_spoke_us ? -1 : 1;
}

/* Main thread, writer lock held by the caller. Returns whether any slot changed. */
static bool reroute(dc_room *r) {
  bool changed = false;
  GPtrArray *others = g_ptr_array_new();
  for (guint i = 0; i < r->members->len; i++) {
    dc_participant *rcv = g_ptr_array_index(r->members, i);
    g_ptr_array_set_size(others, 0);
    for (guint j = 0; j < r->members->len; j++) {
      dc_participant *src = g_ptr_array_index(r->members, j);
      if (src != rcv && src->neg && src->connected) /* one that sends nothing takes no slot */
        g_ptr_array_add(others, src);
    }
    g_ptr_array_sort(others, by_recent_speech); /* stable: join order among equals */
    for (guint j = 1; j < others->len; j++) /* the host's pin goes first */
      if (((dc_participant *)g_ptr_array_index(others, j))->id == r->pinned) {
        gpointer pin = g_ptr_array_steal_index(others, j);
        g_ptr_array_insert(others, 0, pin);
      }
    for (int k = 0; k < rcv->n_video; k++) {
      int64_t source = k < (int)others->len ? ((dc_participant *)g_ptr_array_index(others, k))->id : 0;
      if (rcv->video[k].source != source) {
        changed = true;
        rcv->video[k].source = source;
        /* until the next layer choice: the main slot its best, thumbnails their lowest */
        rcv->video[k].want_layer = k == 0 ? HIGHEST_LAYER : 0;
        rcv->video[k].off = false;
      }
    }
  }
  g_ptr_array_unref(others);
  return changed;
}

static dc_participant *find(dc_room *r, int64_t id) {
  for (guint i = 0; i < r->members->len; i++)
    if (((dc_participant *)g_ptr_array_index(r->members, i))->id == id)
      return g_ptr_array_index(r->members, i);
  return NULL;
}

/* Main thread, writer lock held. Fits each receiver's slots under its bandwidth estimate
 * (media/router dc_choose_layers) from the layer rates its sources' workers measured.
 * Returns whether a slot was turned off or on (the page is told: its tile empties). */
static bool choose_layers(dc_room *r) {
  bool changed = false;
  for (guint i = 0; i < r->members->len; i++) {
    dc_participant *rcv = g_ptr_array_index(r->members, i);
    if (!rcv->neg || !rcv->n_video)
      continue;
    dc_source_layers layers[MAX_SLOTS];
    const dc_source_layers *sources[MAX_SLOTS];
    bool measured[MAX_SLOTS];
    for (int k = 0; k < rcv->n_video; k++) {
      dc_participant *src = find(r, rcv->video[k].source);
      sources[k] = NULL;
      measured[k] = false;
      if (!src || !src->n_layers)
        continue;
      layers[k].n_layers = MIN(src->n_layers, DC_MAX_LAYERS);
      for (int l = 0; l < layers[k].n_layers; l++) {
        layers[k].layer_bps[l] = (uint64_t)g_atomic_int_get(&src->layer_kbps[l]) * 1000;
        measured[k] |= layers[k].layer_bps[l] > 0;
      }
      /* A source with nothing arriving costs nothing and must not make the others' slots
       * look unaffordable: it is an empty slot to the choice. */
      sources[k] = measured[k] ? &layers[k] : NULL;
    }
    uint64_t estimate = (uint64_t)g_atomic_int_get(&rcv->estimate_kbps) * 1000;
    uint64_t now = (uint64_t)g_get_monotonic_time();
    int chosen[MAX_SLOTS];
    uint64_t audio = link_profiles[rcv->tier].audio_bps;
    dc_choose_layers(estimate > audio ? estimate - audio : 0, sources, rcv->n_video, chosen);
    for (int k = 0; k < rcv->n_video; k++) {
      slot *s = &rcv->video[k];
      if (!measured[k])
        continue; /* no video from that source yet: keep the defaults */
      bool off = chosen[k] == DC_LAYER_OFF;
      /* The main slot turns off only after MAIN_OFF_TICKS choices in a row say so: a thin
       * link's estimate dips at each key frame and comes back. */
      s->off_votes = off ? s->off_votes + 1 : 0;
      if (k == 0 && off && !s->off && s->off_votes < MAIN_OFF_TICKS) {
        off = false;
        chosen[k] = MAX(dc_source_lowest_layer(&layers[k]), 0);
      }
      if (k == 0)
        chosen[k] = dc_upgrade_guard_apply(&s->guard, off ? DC_LAYER_OFF : chosen[k], now);
      if (off != s->off)
        g_message("meeting %" G_GINT64_FORMAT " participant %" G_GINT64_FORMAT ": video slot %d %s "
                  "(estimate %" G_GUINT64_FORMAT " kbit/s, lowest layer of point %" G_GINT64_FORMAT
                  " %" G_GUINT64_FORMAT " kbit/s; last REMB %" G_GUINT64_FORMAT " kbit/s, loss %u/256)",
                  r->meeting, rcv->id, k, off ? "paused" : "resumed", estimate / 1000, s->source,
                  layers[k].layer_bps[0] / 1000, rcv->bwe.remb_bps / 1000, rcv->last_loss);
      changed |= off != s->off;
      s->off = off;
      if (!off)
        s->want_layer = chosen[k];
    }
  }
  return changed;
}

static gboolean choose_layers_all(gpointer data) {
  dc_bridge *b = data;
  GHashTableIter it;
  gpointer room;
  g_hash_table_iter_init(&it, b->rooms);
  while (g_hash_table_iter_next(&it, NULL, &room)) {
    dc_room *r = room;
    g_rw_lock_writer_lock(&r->lock);
    bool changed = choose_layers(r);
    g_rw_lock_writer_unlock(&r->lock);
    if (changed)
      tell_slots(r);
  }
  return G_SOURCE_CONTINUE;
}

/* ---- keyframe requests (the source's worker) ---- */

static gboolean send_pli(gpointer data) {
  dc_participant *src = data;
  int64_t now = g_get_monotonic_time();
  if (src->closed || now - src->last_pli_us < PLI_INTERVAL_US)
    return G_SOURCE_REMOVE;
  src->last_pli_us = now;
  uint8_t buf[DC_TRANSPORT_BUF];
  dc_rtcp_writer w;
  dc_rtcp_writer_init(&w, buf, 512);
  /* PLI (RFC 4585 §6.3.1) where the source takes it, else FIR (RFC 5104 §4.3.1) where it
   * takes that; a source that negotiated neither gets a PLI all the same (browsers act on
   * it), since without a key frame nobody can switch to it. */
  bool fir = !(src->video_fb & DC_FB_PLI) && (src->video_fb & DC_FB_FIR);
  if (fir)
    src->fir_seq++;
  for (int i = 0; i < src->n_layers; i++) {
    if (!src->layer_ssrc[i])
      continue;
    if (fir)
      dc_rtcp_write_fir(&w, src->rtcp_ssrc, src->layer_ssrc[i], src->fir_seq);
    else
      dc_rtcp_write_pli(&w, src->rtcp_ssrc, src->layer_ssrc[i]);
  }
  if (w.len)
    dc_transport_send_rtcp(src->transport, buf, w.len, sizeof buf);
  return G_SOURCE_REMOVE;
}

static void request_keyframe(dc_participant *src) {
  dc_worker_invoke(src->worker, send_pli, ref(src), unref);
}

/* ---- forwarding ---- */

/* A hand-off to a receiver's worker: video deliveries and mix deliveries both start with
 * the receiver, so one reserve/release pair bounds them together (MAX_PENDING). */
static bool reserve(dc_participant *rcv) {
  if (g_atomic_int_add(&rcv->pending, 1) < MAX_PENDING)
    return true;
  g_atomic_int_add(&rcv->pending, -1);
  if (g_atomic_int_add(&rcv->dropped, 1) % 1000 == 0)
    g_warning("meeting %" G_GINT64_FORMAT " participant %" G_GINT64_FORMAT
              ": its media worker is behind; dropping packets", rcv->room->meeting, rcv->id);
  return false;
}

static void release(gpointer data) {
  dc_participant *rcv = *(dc_participant **)data; /* every delivery's first member */
  g_atomic_int_add(&rcv->pending, -1);
  unref(rcv);
  g_free(data);
}

typedef struct {
  dc_participant *rcv; /* first: see release() */
  dc_participant *src;
  slot *slot;
  int layer, want_layer; /* this packet's layer; the layer the source wants the slot on */
  bool routed;           /* the slot is routed to this source (not only still playing it) */
  bool repair;           /* a retransmission the receiver asked for */
  bool stop;             /* no packet: the slot is off, stop playing */
  dc_rtp_ext_ids src_ext;
  size_t len;
  uint8_t buf[DC_TRANSPORT_BUF];
} delivery;

static void release_video(gpointer data) {
  delivery *d = data;
  unref(d->src);
  release(d);
}

/* abs-send-time (6.18 fixed-point seconds, 24 bits) of now: the receiver's REMB estimates
 * the bridge-to-receiver leg from it, so it must be our send time, not the source's. */
static uint32_t abs_send_time_now(void) {
  return (uint32_t)(((uint64_t)g_get_monotonic_time() << 18) / G_USEC_PER_SEC) & 0xFFFFFF;
}

/* The receiver's worker: the slot (media/router) decides whether the packet goes out and
 * makes it one continuous stream; keep only the header extensions the receiver negotiated
 * and that are true on its leg: abs-send-time, renumbered and restamped. mid/rid would
 * misroute in the receiver; transport-cc numbers belong to the sender's transport. A repair
 * goes out only as RTX (RFC 4588), under an RTX sequence number of its own: sent again as
 * itself it would reuse its SRTP index with a new abs-send-time, i.e. a GCM nonce with other
 * AAD, which gives away the authentication key (media/srtp refuses it anyway). */
static gboolean deliver(gpointer data) {
  delivery *d = data;
  slot *s = d->slot;
  if (d->rcv->closed)
    return G_SOURCE_REMOVE;
  if (d->stop) {
    dc_slot_want(&s->core, DC_SLOT_NONE, 0);
    g_atomic_pointer_set(&s->playing_source, (gpointer)(gintptr)DC_SLOT_NONE);
    return G_SOURCE_REMOVE;
  }
  if (d->repair && s->rtx_pt < 0)
    return G_SOURCE_REMOVE;
  if (d->routed && (s->core.want_source != d->src->id || s->core.want_layer != d->want_layer))
    dc_slot_want(&s->core, d->src->id, d->want_layer);
  dc_rtp pkt;
  if (dc_rtp_parse(&pkt, d->buf, d->len) != DC_OK)
    return G_SOURCE_REMOVE;
  uint8_t map[256] = {0};
  if (d->src_ext.abs_send_time)
    map[d->src_ext.abs_send_time] = s->ext.abs_send_time;
  dc_rtp_ext_remap(d->buf, &pkt, map);
  if (d->src_ext.abs_send_time && s->ext.abs_send_time)
    dc_rtp_set_abs_send_time(d->buf, &pkt, s->ext.abs_send_time, abs_send_time_now());
  uint64_t now = (uint64_t)g_get_monotonic_time();
  dc_slot_result fwd = d->repair ? dc_slot_forward_repair(&s->core, d->src->id, d->layer, d->buf, d->len, now)
                                 : dc_slot_forward(&s->core, d->src->id, d->layer, d->buf, d->len, now);
  if (fwd == DC_SLOT_SEND) {
    size_t len = d->len;
    if (d->repair)
      len = dc_rtx_wrap(d->buf, len, DC_TRANSPORT_BUF - DC_SRTP_MAX_TRAILER, (uint8_t)s->rtx_pt,
                        s->rtx_ssrc, s->rtx_seq++);
    if (len && dc_transport_send_rtp(d->rcv->transport, d->buf, len, sizeof d->buf) == DC_OK) {
      d->rcv->sent_bytes += len;
      d->rcv->repairs_sent += d->repair;
    }
  }
  if (d->repair)
    return G_SOURCE_REMOVE;
  g_atomic_pointer_set(&s->playing_source, (gpointer)(gintptr)s->core.source);
  g_atomic_int_set(&s->playing_layer, s->core.layer);
  if (dc_slot_needs_keyframe(&s->core) && d->routed)
    request_keyframe(d->src); /* throttled on the source's worker */
  return G_SOURCE_REMOVE;
}

static void forward(dc_participant *rcv, dc_participant *src, slot *s, int layer, int want_layer,
                    bool routed, bool repair, const uint8_t *buf, size_t len) {
  const dc_rtp_ext_ids *src_ext = &src->video_ext;
  if (s->section < 0 || len > DC_TRANSPORT_BUF - DC_SRTP_MAX_TRAILER)
    return;
  if (!reserve(rcv))
    return;
  delivery *d = g_malloc(sizeof *d);
  d->rcv = ref(rcv);
  d->src = ref(src);
  d->slot = s;
  d->layer = layer;
  d->want_layer = want_layer;
  d->routed = routed;
  d->repair = repair;
  d->stop = false;
  d->src_ext = *src_ext;
  d->len = len;
  memcpy(d->buf, buf, len);
  dc_worker_invoke(rcv->worker, deliver, d, release_video);
}

/* Asks the receiver's worker to stop a slot that still plays src (it was turned off). */
static void stop_slot(dc_participant *rcv, dc_participant *src, slot *s) {
  if (!reserve(rcv))
    return;
  delivery *d = g_new0(delivery, 1); /* rare: once per slot turned off */
  d->rcv = ref(rcv);
  d->src = ref(src);
  d->slot = s;
  d->stop = true;
  dc_worker_invoke(rcv->worker, deliver, d, release_video);
}

/* Which simulcast layer a video packet is; -1 while its SSRC is not yet known. */
static int layer_of(dc_participant *src, const dc_rtp *pkt) {
  if (src->n_layers <= 1) {
    src->layer_ssrc[0] = pkt->ssrc;
    return 0;
  }
  for (int i = 0; i < src->n_layers; i++)
    if (src->layer_ssrc[i] == pkt->ssrc)
      return i;
  dc_rtp_ext_values v;
  dc_rtp_read_exts(pkt, &src->video_ext, &v);
  for (int i = 0; v.rid_len && i < src->n_layers; i++)
    if (!strcmp(src->rids[i], v.rid)) {
      src->layer_ssrc[i] = pkt->ssrc;
      return i;
    }
  return -1;
}

/* The layer an RTX packet repairs: by its SSRC once known (from the offer's FID groups or an
 * earlier packet), else by its repaired-rtp-stream-id (RFC 8852 §3.2). -1 when unknown. */
static int rtx_layer_of(dc_participant *src, const dc_rtp *pkt) {
  for (int i = 0; i < src->n_layers; i++)
    if (src->rtx_ssrc[i] == pkt->ssrc)
      return i;
  if (src->n_layers <= 1) {
    src->rtx_ssrc[0] = pkt->ssrc;
    return 0;
  }
  dc_rtp_ext_values v;
  dc_rtp_read_exts(pkt, &src->video_ext, &v);
  for (int i = 0; v.repaired_rid_len && i < src->n_layers; i++)
    if (!strcmp(src->rids[i], v.repaired_rid)) {
      src->rtx_ssrc[i] = pkt->ssrc;
      return i;
    }
  return -1;
}

/* The source's worker: NACK what is missing from this layer (RFC 4585 §6.2.1), at once on
 * a gap and again every NACK_RETRY_US, so a loss on the sender's leg is repaired there. */
static void nack_upstream(dc_participant *src, int layer, uint64_t now) {
  uint16_t seqs[DC_NACK_MAX];
  size_t n = dc_rx_stream_nacks(&src->layer_rx[layer], now, NACK_RETRY_US, REPAIR_AGE_US, seqs, DC_NACK_MAX);
  if (!n || !src->nack_upstream)
    return;
  uint8_t buf[DC_TRANSPORT_BUF];
  dc_rtcp_writer w;
  dc_rtcp_writer_init(&w, buf, 1200);
  dc_rtcp_write_nack(&w, src->rtcp_ssrc, src->layer_rx[layer].ssrc, seqs, n);
  if (w.len && !w.overflow)
    dc_transport_send_rtcp(src->transport, buf, w.len, sizeof buf);
}

/* The source's worker. */
static void on_rtp(gpointer user, uint8_t *buf, size_t len, size_t cap) {
  (void)cap;
  dc_participant *src = user;
  dc_rtp pkt;
  if (dc_rtp_parse(&pkt, buf, len) != DC_OK)
    return;
  uint64_t now = (uint64_t)g_get_monotonic_time();
  if (pkt.payload_type == src->audio_pt) {
    if (src->audio_rx.ssrc != pkt.ssrc)
      dc_rx_stream_init(&src->audio_rx, pkt.ssrc, 48000);
    dc_rx_stream_update(&src->audio_rx, pkt.seq, pkt.timestamp, len, now);
    if (g_atomic_int_get(&src->muted) || src->mix_slot < 0)
      return;
    bool voice;
    uint8_t dbov;
    int level = src->audio_ext.audio_level && dc_rtp_audio_level(&pkt, src->audio_ext.audio_level, &voice, &dbov)
                    ? dbov : -1;
    g_mutex_lock(&src->room->mix_lock);
    dc_mixer_push(src->room->mixer, src->mix_slot, &pkt, level, now);
    g_mutex_unlock(&src->room->mix_lock);
    return;
  }
  int layer;
  if (src->rtx_pt >= 0 && pkt.payload_type == src->rtx_pt) {
    /* a repair we asked for: back to the packet it stands for */
    layer = rtx_layer_of(src, &pkt);
    if (layer < 0 || !src->layer_ssrc[layer])
      return;
    len = dc_rtx_unwrap(buf, len, (uint8_t)src->video_pt, src->layer_ssrc[layer]);
    if (!len || dc_rtp_parse(&pkt, buf, len) != DC_OK)
      return; /* a padding-only probe */
  } else if (pkt.payload_type == src->video_pt) {
    layer = layer_of(src, &pkt);
    if (layer < 0)
      return;
  } else {
    return;
  }
  dc_rx_stream *rx = &src->layer_rx[layer];
  if (rx->ssrc != pkt.ssrc || !rx->started)
    dc_rx_stream_init(rx, pkt.ssrc, 90000);
  if (!dc_rx_stream_update(rx, pkt.seq, pkt.timestamp, len, now))
    return; /* a duplicate: already forwarded */
  src->layer_bytes[layer] += len;
  if (src->cache)
    dc_packet_cache_put(src->cache, pkt.ssrc, pkt.seq, buf, len, now);
  nack_upstream(src, layer, now);
  /* A sender drops its top layers at low resolution or under load: "highest" means of the
   * layers arriving now (seen within the last second). */
  int highest = -1;
  src->layer_seen_us[layer] = (int64_t)now;
  for (int i = 0; i < src->n_layers; i++)
    if (src->layer_seen_us[i] && (int64_t)now - src->layer_seen_us[i] < G_USEC_PER_SEC)
      highest = i;
  dc_room *r = src->room;
  g_rw_lock_reader_lock(&r->lock);
  for (guint i = 0; i < r->members->len; i++) {
    dc_participant *rcv = g_ptr_array_index(r->members, i);
    if (rcv == src)
      continue;
    for (int k = 0; k < rcv->n_video; k++) {
      slot *s = &rcv->video[k];
      bool playing = s->source != 0 &&
                     (gintptr)g_atomic_pointer_get(&s->playing_source) == src->id &&
                     g_atomic_int_get(&s->playing_layer) == layer;
      if (s->off) {
        if (playing)
          stop_slot(rcv, src, s);
        continue;
      }
      int want = s->want_layer == HIGHEST_LAYER || s->want_layer > highest ? highest : s->want_layer;
      bool routed = s->source == src->id && layer == want;
      /* until the slot has switched, what it plays now keeps flowing */
      if (routed || playing)
        forward(rcv, src, s, layer, want, s->source == src->id, false, buf, len);
    }
  }
  g_rw_lock_reader_unlock(&r->lock);
}

/* ---- repairs for receivers ---- */

typedef struct {
  dc_participant *rcv, *src;
  slot *slot;
  int layer;
  uint32_t in_ssrc;
  size_t n;
  uint16_t seqs[64];
} repair_request;

static void free_repair(gpointer data) {
  repair_request *q = data;
  unref(q->rcv);
  unref(q->src);
  g_free(q);
}

/* The source's worker: what its cache holds goes back to the receiver's worker, through the
 * slot, as any packet of the slot does. */
static gboolean serve_repair(gpointer data) {
  repair_request *q = data;
  if (!q->src->cache)
    return G_SOURCE_REMOVE;
  uint64_t now = (uint64_t)g_get_monotonic_time();
  uint8_t buf[DC_TRANSPORT_BUF];
  for (size_t i = 0; i < q->n; i++) {
    size_t len = dc_packet_cache_get(q->src->cache, q->in_ssrc, q->seqs[i], now, buf, sizeof buf);
    if (len)
      forward(q->rcv, q->src, q->slot, q->layer, q->layer, false, true, buf, len);
  }
  return G_SOURCE_REMOVE;
}

/* The receiver's worker: a NACK for one of its slots. Sequence numbers are the slot's; the
 * slot knows which packets of its source they were. Bounded per tick, so a receiver that
 * NACKs everything (a storm, or a broken client) costs a fixed amount. */
static void on_nack(dc_participant *rcv, const dc_rtcp_fb *fb) {
  uint16_t seqs[256];
  size_t n = dc_rtcp_nack_expand(fb, seqs, G_N_ELEMENTS(seqs));
  dc_room *r = rcv->room;
  for (int k = 0; k < rcv->n_video; k++) {
    slot *s = &rcv->video[k];
    if (s->ssrc != fb->media_ssrc || s->core.source == DC_SLOT_NONE || s->rtx_pt < 0)
      continue; /* repairs go only as RTX: see deliver() */
    repair_request *q = g_new0(repair_request, 1);
    for (size_t i = 0; i < n && q->n < G_N_ELEMENTS(q->seqs); i++) {
      if (rcv->repairs >= REPAIRS_PER_TICK) {
        g_atomic_int_inc(&rcv->repairs_refused);
        break;
      }
      if (dc_slot_source_seq(&s->core, seqs[i], &q->seqs[q->n])) {
        q->n++;
        rcv->repairs++;
      }
    }
    g_rw_lock_reader_lock(&r->lock);
    dc_participant *src = q->n ? find(r, s->core.source) : NULL;
    if (src) {
      q->rcv = ref(rcv);
      q->src = ref(src);
      q->slot = s;
      q->layer = s->core.layer;
      q->in_ssrc = s->core.in_ssrc;
    }
    g_rw_lock_reader_unlock(&r->lock);
    if (src)
      dc_worker_invoke(src->worker, serve_repair, q, free_repair);
    else
      g_free(q);
  }
}

/* The receiver's worker: its reports about our streams feed its bandwidth estimate. The
 * worst loss among our video streams counts (the mix alone when no video goes to it), and
 * only what its own leg lost: the gaps a source's uplink left are not its doing
 * (media/router dc_leg_loss). */
static void on_report(dc_participant *rcv, const dc_rtcp_report *rep, uint64_t now) {
  int worst = -1, audio = -1;
  for (int b = 0; b < rep->n_blocks; b++) {
    const dc_rtcp_report_block *blk = &rep->blocks[b];
    for (int k = 0; k < rcv->n_video; k++) {
      slot *s = &rcv->video[k];
      if (blk->ssrc != s->ssrc || !s->core.started)
        continue;
      int leg = dc_leg_loss_update(&s->leg, &s->core, blk->fraction_lost, blk->cumulative_lost,
                                   blk->ext_highest_seq); /* once: MAX() would call it twice */
      worst = MAX(worst, leg);
    }
    if (blk->ssrc == rcv->audio.ssrc)
      audio = blk->fraction_lost; /* the mix: every packet is ours, no gap is a source's */
  }
  if (worst < 0)
    worst = audio;
  if (worst >= 0) {
    rcv->last_loss = (unsigned)worst;
    dc_bwe_on_loss(&rcv->bwe, (uint8_t)worst, now);
  }
}

/* The source's worker: its sender reports, for our reports' LSR/DLSR. */
static void on_sender_report(dc_participant *src, const dc_rtcp_report *rep, uint64_t now) {
  for (int i = 0; i < src->n_layers; i++)
    if (src->layer_rx[i].started && src->layer_rx[i].ssrc == rep->ssrc)
      dc_rx_stream_on_sr(&src->layer_rx[i], rep->ntp, now);
  if (src->audio_rx.started && src->audio_rx.ssrc == rep->ssrc)
    dc_rx_stream_on_sr(&src->audio_rx, rep->ntp, now);
}

/* The participant's worker: RTCP from it, as a receiver (feedback on our streams: key-frame
 * requests go to the slot's source, NACKs are served from that source's cache, reports and
 * REMB make its estimate) and as a sender (its SRs). Feedback naming an SSRC that is not one
 * of ours is ignored. */
static void on_rtcp(gpointer user, uint8_t *buf, size_t len) {
  dc_participant *rcv = user;
  dc_rtcp_iter it;
  dc_rtcp_pkt pkt;
  if (dc_rtcp_validate(buf, len) != DC_OK)
    return;
  uint64_t now = (uint64_t)g_get_monotonic_time();
  dc_rtcp_iter_init(&it, buf, len);
  while (dc_rtcp_next(&it, &pkt) == DC_OK) {
    dc_rtcp_kind kind = dc_rtcp_kind_of(&pkt);
    dc_rtcp_fb fb;
    dc_rtcp_report rep;
    dc_rtcp_remb remb;
    if ((kind == DC_RTCP_SR || kind == DC_RTCP_RR) && dc_rtcp_parse_report(&pkt, &rep) == DC_OK) {
      if (rep.is_sr)
        on_sender_report(rcv, &rep, now);
      on_report(rcv, &rep, now);
      continue;
    }
    if (dc_rtcp_parse_fb(&pkt, &fb) != DC_OK)
      continue;
    if (kind == DC_RTCP_NACK) {
      on_nack(rcv, &fb);
      continue;
    }
    if (kind == DC_RTCP_REMB && dc_rtcp_parse_remb(&fb, &remb) == DC_OK) {
      dc_bwe_on_remb(&rcv->bwe, remb.bitrate_bps, rcv->sent_bps, now);
      continue;
    }
    if (kind != DC_RTCP_PLI && kind != DC_RTCP_FIR)
      continue;
    uint32_t media = fb.media_ssrc;
    if (kind == DC_RTCP_FIR && dc_rtcp_fir_entries(&fb)) {
      uint8_t n;
      dc_rtcp_fir_entry(&fb, 0, &media, &n);
    }
    dc_room *r = rcv->room;
    g_rw_lock_reader_lock(&r->lock);
    for (int k = 0; k < rcv->n_video; k++) {
      dc_participant *src = rcv->video[k].ssrc == media ? find(r, rcv->video[k].source) : NULL;
      if (src)
        request_keyframe(src);
    }
    g_rw_lock_reader_unlock(&r->lock);
  }
}

/* ---- housekeeping (each participant's worker, every TICK_MS) ---- */

/* Layer rates for the layer choice; the estimate for it; and each second our receiver
 * reports on what it sends (RFC 3550 §6.4.2) with a REMB capping its send rate at its link
 * profile's (Chrome's loss controller takes it from there). */
static gboolean participant_tick(gpointer data) {
  dc_participant *p = data;
  if (p->closed)
    return G_SOURCE_REMOVE;
  uint64_t now = (uint64_t)g_get_monotonic_time();
  uint64_t elapsed = p->last_tick_us ? now - (uint64_t)p->last_tick_us : TICK_MS * 1000;
  p->last_tick_us = (int64_t)now;
  for (int i = 0; i < p->n_layers; i++) {
    /* smoothed over about a second: a key frame is several times an inter frame */
    gint now_kbps = (gint)(p->layer_bytes[i] * 8 * 1000 / MAX(elapsed, 1));
    g_atomic_int_set(&p->layer_kbps[i], (g_atomic_int_get(&p->layer_kbps[i]) + now_kbps + 1) / 2);
    p->layer_bytes[i] = 0;
  }
  p->sent_bps = (p->sent_bps + p->sent_bytes * 8 * 1000000 / MAX(elapsed, 1)) / 2;
  p->sent_bytes = 0;
  g_atomic_int_set(&p->estimate_kbps, (gint)(dc_bwe_estimate(&p->bwe) / 1000));
  p->repairs = 0;
  if (++p->ticks % (1000 / TICK_MS))
    return G_SOURCE_CONTINUE;
  if (p->ticks % (5000 / TICK_MS) == 0)
    g_debug("meeting %" G_GINT64_FORMAT " participant %" G_GINT64_FORMAT ": estimate %" G_GUINT64_FORMAT
            " kbit/s, sending %" G_GUINT64_FORMAT " kbit/s, last REMB %" G_GUINT64_FORMAT " kbit/s, "
            "last loss %u/256, congestion signals %u; repairs sent to it %d, refused %d",
            p->room->meeting, p->id, dc_bwe_estimate(&p->bwe) / 1000, p->sent_bps / 1000,
            p->bwe.remb_bps / 1000, p->last_loss, p->bwe.congestion_signals, p->repairs_sent,
            g_atomic_int_get(&p->repairs_refused));
  dc_rtcp_report rr = {.ssrc = p->rtcp_ssrc};
  for (int i = 0; i < p->n_layers && rr.n_blocks < DC_RTCP_MAX_BLOCKS; i++)
    if (p->layer_rx[i].started)
      dc_rx_stream_report(&p->layer_rx[i], now, &rr.blocks[rr.n_blocks++]);
  if (p->audio_rx.started && rr.n_blocks < DC_RTCP_MAX_BLOCKS)
    dc_rx_stream_report(&p->audio_rx, now, &rr.blocks[rr.n_blocks++]);
  if (!rr.n_blocks)
    return G_SOURCE_CONTINUE;
  uint8_t buf[DC_TRANSPORT_BUF];
  dc_rtcp_writer w;
  dc_rtcp_writer_init(&w, buf, 1200);
  dc_rtcp_write_rr(&w, &rr);
  uint32_t ssrcs[DC_SDP_MAX_LAYERS];
  size_t n = 0;
  for (int i = 0; i < p->n_layers; i++)
    if (p->layer_rx[i].started)
      ssrcs[n++] = p->layer_rx[i].ssrc;
  if (n && p->remb_upstream)
    dc_rtcp_write_remb(&w, p->rtcp_ssrc, link_profiles[p->tier].send_bps, ssrcs, n);
  if (w.len && !w.overflow)
    dc_transport_send_rtcp(p->transport, buf, w.len, sizeof buf);
  return G_SOURCE_CONTINUE;
}

/* ---- the mix clock ---- */

typedef struct {
  dc_participant *rcv; /* first: see release() */
  uint32_t samples;
  uint8_t level_dbov;
  size_t len;
  uint8_t payload[DC_MIX_MAX_PACKET];
} mix_delivery;

/* The receiver's worker: the mix as one continuous stream of its audio section. */
static gboolean deliver_audio(gpointer data) {
  mix_delivery *d = data;
  slot *s = &d->rcv->audio;
  if (d->rcv->closed || s->section < 0)
    return G_SOURCE_REMOVE;
  if (!s->started) {
    s->started = true;
    s->last_seq = (uint16_t)g_random_int();
    s->last_ts = g_random_int();
  }
  s->last_seq++;
  s->last_ts += d->samples;
  uint8_t level = (uint8_t)((d->level_dbov < 127 ? 0x80 : 0) | d->level_dbov); /* RFC 6464 */
  dc_rtp_ext_elem ext = {s->ext.audio_level, 1, &level};
  dc_rtp_header h = {.payload_type = s->pt, .seq = s->last_seq, .timestamp = s->last_ts, .ssrc = s->ssrc};
  uint8_t buf[DC_TRANSPORT_BUF];
  size_t hl = dc_rtp_write_header(buf, sizeof buf, &h, &ext, s->ext.audio_level ? 1 : 0);
  memcpy(buf + hl, d->payload, d->len);
  if (dc_transport_send_rtp(d->rcv->transport, buf, hl + d->len, sizeof buf) == DC_OK)
    d->rcv->sent_bytes += hl + d->len;
  return G_SOURCE_REMOVE;
}

typedef struct {
  dc_bridge *bridge;
  int64_t meeting, participant;
} speaker_event;

static gboolean speaker_on_main(gpointer data) {
  speaker_event *e = data;
  if (e->bridge->stopping)
    return G_SOURCE_REMOVE;
  dc_room *r = g_hash_table_lookup(e->bridge->rooms, &e->meeting);
  dc_participant *p = r ? find(r, e->participant) : NULL;
  if (p) {
    p->last_spoke_us = g_get_monotonic_time();
    reroute_and_tell(r);
  }
  if (e->bridge->on_speaker)
    e->bridge->on_speaker(e->bridge->speaker_user, e->meeting, e->participant);
  return G_SOURCE_REMOVE;
}

/* From the clock thread: a source attached to the main context, never a direct call. (With
 * the main loop stopped, g_main_context_invoke would run the callback right here, on the
 * clock thread, which is how SIGTERM once deadlocked the bridge.) */
static void post_speaker(dc_bridge *b, int64_t meeting, int64_t speaker) {
  speaker_event *e = g_new(speaker_event, 1);
  *e = (speaker_event){b, meeting, speaker};
  GSource *src = g_idle_source_new();
  g_source_set_callback(src, speaker_on_main, e, g_free);
  g_source_attach(src, b->main);
  g_source_unref(src);
}

static void tick_room(dc_room *r, uint64_t now) {
  GPtrArray *out = g_ptr_array_new();
  bool speaker_changed = false;
  g_rw_lock_reader_lock(&r->lock);
  g_mutex_lock(&r->mix_lock);
  dc_mixer_tick(r->mixer, now);
  int dominant = dc_mixer_dominant(r->mixer);
  int64_t speaker = 0;
  for (guint i = 0; i < r->members->len && dominant >= 0; i++) {
    dc_participant *p = g_ptr_array_index(r->members, i);
    if (p->mix_slot == dominant)
      speaker = p->id;
  }
  if (speaker != r->speaker) {
    r->speaker = speaker;
    speaker_changed = true;
  }
  for (guint i = 0; i < r->members->len; i++) {
    dc_participant *p = g_ptr_array_index(r->members, i);
    const dc_mixer_packet *pk = p->mix_slot >= 0 ? dc_mixer_packet_for(r->mixer, p->mix_slot) : NULL;
    if (!pk || !reserve(p))
      continue;
    mix_delivery *d = g_malloc(sizeof *d);
    d->rcv = ref(p);
    d->samples = pk->samples;
    d->level_dbov = pk->level_dbov;
    d->len = pk->len;
    memcpy(d->payload, pk->payload, pk->len);
    g_ptr_array_add(out, d);
  }
  g_mutex_unlock(&r->mix_lock);
  g_rw_lock_reader_unlock(&r->lock);
  if (speaker_changed) /* the clock thread alone writes r->speaker */
    post_speaker(r->bridge, r->meeting, r->speaker);
  for (guint i = 0; i < out->len; i++) { /* no lock held while handing over */
    mix_delivery *d = g_ptr_array_index(out, i);
    dc_worker_invoke(d->rcv->worker, deliver_audio, d, release);
  }
  g_ptr_array_unref(out);
}

/* Ticks every room every 20 ms on absolute deadlines, so a late tick does not delay the
 * next: the mix keeps the sender's pace however long one tick took. */
static gpointer mix_clock(gpointer data) {
  dc_bridge *b = data;
  struct timespec next;
  clock_gettime(CLOCK_MONOTONIC, &next);
  while (!g_atomic_int_get(&b->stop)) {
    next.tv_nsec += 20 * 1000 * 1000;
    if (next.tv_nsec >= 1000000000) {
      next.tv_nsec -= 1000000000;
      next.tv_sec++;
    }
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
    uint64_t now = (uint64_t)g_get_monotonic_time();
    g_mutex_lock(&b->rooms_lock);
    for (guint i = 0; i < b->room_list->len; i++)
      tick_room(g_ptr_array_index(b->room_list, i), now);
    g_mutex_unlock(&b->rooms_lock);
  }
  return NULL;
}

/* ---- transport events, marshalled to the main thread ---- */

typedef struct {
  dc_participant *p;
  char *candidate;
  dc_transport_state state;
  char *reason;
} event;

static void free_event(gpointer data) {
  event *e = data;
  unref(e->p);
  g_free(e->candidate);
  g_free(e->reason);
  g_free(e);
}

static void stop_connect_timer(dc_participant *p) {
  if (p->connect_timer) {
    g_source_destroy(p->connect_timer);
    g_source_unref(p->connect_timer);
    p->connect_timer = NULL;
  }
}

/* Main thread: media came up, or is gone for good. Slots follow. */
static void set_connected(dc_participant *p, bool connected) {
  stop_connect_timer(p);
  if (p->connected == connected)
    return;
  p->connected = connected;
  reroute_and_tell(p->room);
}

static gboolean connect_timeout(gpointer data) {
  dc_participant *p = data;
  g_source_unref(p->connect_timer);
  p->connect_timer = NULL;
  if (!p->left && !p->connected) {
    g_message("meeting %" G_GINT64_FORMAT " participant %" G_GINT64_FORMAT ": no media connection "
              "within %u s", p->room->meeting, p->id, p->room->bridge->connect_timeout_s);
    p->ev.state(p->user, DC_TRANSPORT_FAILED, "no media connection was made (UDP blocked? try a TURN relay)");
  }
  return G_SOURCE_REMOVE;
}

static gboolean event_on_main(gpointer data) {
  event *e = data;
  dc_participant *p = e->p;
  if (p->left)
    return G_SOURCE_REMOVE;
  if (e->candidate)
    p->ev.candidate(p->user, e->candidate);
  else
    p->ev.state(p->user, e->state, e->reason);
  if (!e->candidate && e->state != DC_TRANSPORT_NEW)
    set_connected(p, e->state == DC_TRANSPORT_CONNECTED);
  if (e->state == DC_TRANSPORT_CONNECTED) {
    /* the receiver can decode only from a keyframe: ask every source it now gets */
    dc_room *r = p->room;
    g_rw_lock_reader_lock(&r->lock);
    for (int k = 0; k < p->n_video; k++) {
      dc_participant *src = find(r, p->video[k].source);
      if (src)
        request_keyframe(src);
    }
    g_rw_lock_reader_unlock(&r->lock);
  }
  return G_SOURCE_REMOVE;
}

static void on_candidate(gpointer user, const char *candidate) {
  dc_participant *p = user;
  event *e = g_new0(event, 1);
  e->p = ref(p);
  e->candidate = g_strdup(candidate);
  g_main_context_invoke_full(p->room->bridge->main, G_PRIORITY_DEFAULT, event_on_main, e, free_event);
}

static void on_state(gpointer user, dc_transport_state state, const char *reason) {
  dc_participant *p = user;
  if (state != DC_TRANSPORT_NEW && state != DC_TRANSPORT_CONNECTED)
    p->closed = true; /* failed or closed: no more sends on this worker */
  event *e = g_new0(event, 1);
  e->p = ref(p);
  e->state = state;
  e->reason = g_strdup(reason);
  g_main_context_invoke_full(p->room->bridge->main, G_PRIORITY_DEFAULT, event_on_main, e, free_event);
}

/* ---- membership (main thread) ---- */

static gpointer ref_copy(gconstpointer p, gpointer unused) {
  (void)unused;
  return ref((dc_participant *)p);
}

/* Recomputes every slot and tells each participant who fills its slots now. */
static void reroute_and_tell(dc_room *r) {
  g_rw_lock_writer_lock(&r->lock);
  reroute(r);
  g_rw_lock_writer_unlock(&r->lock);
  tell_slots(r);
}

/* Main thread: tells each participant who fills its slots; a slot turned off for want of
 * bandwidth reads as empty. */
static void tell_slots(dc_room *r) {
  /* a referenced copy: the callbacks run unlocked. The copy keeps r->members' free
   * function (unref), which gives the references back. */
  g_rw_lock_reader_lock(&r->lock);
  GPtrArray *members = g_ptr_array_copy(r->members, ref_copy, NULL);
  g_rw_lock_reader_unlock(&r->lock);
  for (guint i = 0; i < members->len; i++) {
    dc_participant *p = g_ptr_array_index(members, i);
    int64_t sources[MAX_SLOTS];
    for (int k = 0; k < p->n_video; k++) /* main thread: the only writer of these */
      sources[k] = p->video[k].off ? 0 : p->video[k].source;
    bool same = p->told_once && !memcmp(sources, p->told, sizeof sources[0] * (size_t)p->n_video);
    if (!p->left && p->neg && p->ev.slots && !same) { /* PROTOCOL.md: only when it changes */
      memcpy(p->told, sources, sizeof sources[0] * (size_t)p->n_video);
      p->told_once = true;
      p->ev.slots(p->user, sources, p->n_video);
    }
  }
  g_ptr_array_unref(members);
}

dc_participant *dc_room_join(dc_room *r, int64_t id, const char *name, const char *profile,
                             const dc_participant_events *ev, gpointer user) {
  dc_participant *p = g_new0(dc_participant, 1);
  p->mix_slot = -1;
  if (!dc_tier_from_name(profile, &p->tier))
    p->tier = DC_TIER_STANDARD;
  p->refs = 1;
  p->id = id;
  p->name = g_strdup(name);
  p->room = r;
  p->ev = *ev;
  p->user = user;
  p->audio.section = -1;
  p->audio_pt = p->video_pt = p->rtx_pt = -1;
  g_rw_lock_writer_lock(&r->lock);
  g_ptr_array_add(r->members, ref(p));
  g_rw_lock_writer_unlock(&r->lock);
  return p; /* the caller's reference, given back by dc_participant_leave */
}

static void setup_slot(slot *s, int section, const dc_sdp_section *sec) {
  s->section = section;
  s->ssrc = (uint32_t)g_random_int_range(0x10000, G_MAXINT32);
  s->pt = (uint8_t)sec->pt;
  s->ext = sec->ext;
  s->rtx_pt = sec->kind == DC_SDP_VIDEO ? sec->rtx_pt : -1;
  s->rtx_ssrc = s->rtx_pt >= 0 ? (uint32_t)g_random_int_range(0x10000, G_MAXINT32) : 0;
  s->rtx_seq = (uint16_t)g_random_int();
  dc_slot_init(&s->core, s->ssrc, s->pt);
  dc_upgrade_guard_init(&s->guard);
  s->playing_source = (gpointer)(gintptr)DC_SLOT_NONE;
}

char *dc_participant_offer(dc_participant *p, const char *sdp, GError **error) {
  if (p->neg) {
    g_set_error(error, DC_MEDIA_ERROR, DC_MEDIA_ERROR_UNSUPPORTED,
                "renegotiation is not supported: leave and join again");
    return NULL;
  }
  dc_sdp *offer = dc_sdp_parse(sdp, strlen(sdp), error);
  dc_sdp_negotiation *neg = offer ? dc_sdp_negotiate(offer, error) : NULL;
  if (!neg) {
    dc_sdp_free(offer);
    return NULL;
  }
  dc_bridge *b = p->room->bridge;
  p->worker = dc_workers_pick(b->workers);
  dc_transport_callbacks cb = {.candidate = on_candidate, .state = on_state, .rtp = on_rtp,
                               .rtcp = on_rtcp};
  p->transport = dc_transport_new(p->worker, b->identity, &b->transport, &cb, ref(p), unref);

  /* Slots are read by other sources' workers: publish them under the writer lock. */
  dc_room *r = p->room;
  dc_sdp_send send[64] = {{0}};
  int first_video = -1;
  g_rw_lock_writer_lock(&r->lock);
  for (guint i = 0; i < neg->sections->len && i < 64; i++) {
    const dc_sdp_section *sec = &g_array_index(neg->sections, dc_sdp_section, i);
    if (!sec->accepted)
      continue;
    if ((int)i == neg->audio) {
      setup_slot(&p->audio, (int)i, sec);
      send[i].ssrc = p->audio.ssrc;
      p->audio_pt = sec->pt;
      p->audio_ext = sec->ext;
    } else if (sec->kind == DC_SDP_VIDEO && p->n_video < MAX_SLOTS) {
      setup_slot(&p->video[p->n_video], (int)i, sec);
      send[i].ssrc = p->video[p->n_video].ssrc;
      send[i].rtx_ssrc = p->video[p->n_video].rtx_ssrc;
      p->n_video++;
      bool sends = sec->offered_dir == DC_SDP_SENDRECV || sec->offered_dir == DC_SDP_SENDONLY;
      if (first_video < 0 && sends) {
        first_video = (int)i; /* the camera comes up in the first sending video section */
        p->video_pt = sec->pt;
        p->video_ext = sec->ext;
        p->rtx_pt = sec->rtx_pt;
        p->nack_upstream = sec->feedback & DC_FB_NACK;
        p->remb_upstream = sec->feedback & DC_FB_REMB;
        p->video_fb = sec->feedback;
        if (sec->n_rids) { /* rid-based simulcast (Chromium): SSRCs learnt from the rid */
          p->n_layers = sec->n_rids;
          for (int k = 0; k < sec->n_rids; k++)
            g_strlcpy(p->rids[k], sec->rids[k]->rid, sizeof p->rids[k]);
        } else { /* SSRC-based (webrtcbin: a=ssrc-group:SIM, lowest first), or one layer */
          p->n_layers = MAX(sec->n_ssrcs, 1);
          for (int k = 0; k < sec->n_ssrcs; k++) {
            p->layer_ssrc[k] = sec->ssrcs[k];
            p->rtx_ssrc[k] = sec->rtx_ssrcs[k];
          }
        }
        p->cache = dc_packet_cache_new(REPAIR_AGE_US, CACHE_MAX_BYTES);
      }
    }
  }
  p->offer = offer;
  p->neg = neg;
  p->rtcp_ssrc = (uint32_t)g_random_int_range(0x10000, G_MAXINT32);
  dc_bwe_init(&p->bwe, link_profiles[p->tier].initial_bps, BWE_FLOOR_BPS, link_profiles[p->tier].ceiling_bps);
  p->estimate_kbps = (gint)(link_profiles[p->tier].initial_bps / 1000);
  if (p->audio.section >= 0) {
    g_mutex_lock(&r->mix_lock);
    p->mix_slot = dc_mixer_add(r->mixer, p->tier);
    g_mutex_unlock(&r->mix_lock);
    if (p->mix_slot < 0)
      g_warning("meeting %" G_GINT64_FORMAT ": the room is full (%u); participant %" G_GINT64_FORMAT
                " gets no audio", r->meeting, r->bridge->max_room, p->id);
  }
  g_rw_lock_writer_unlock(&r->lock);
  reroute_and_tell(r);

  dc_sdp_answer_params params = {
      .ice_ufrag = dc_transport_local_ufrag(p->transport),
      .ice_pwd = dc_transport_local_pwd(p->transport),
      .fingerprint = dc_bridge_fingerprint(b),
      .cname = "diemcau",
      .session_id = (uint64_t)g_get_real_time(),
      .send = send};
  char *answer = dc_sdp_write_answer(neg, &params);
  dc_transport_start(p->transport, neg->ice_ufrag, neg->ice_pwd, neg->fingerprint, neg->dtls_server);
  p->timer = g_timeout_source_new(TICK_MS);
  g_source_set_callback(p->timer, participant_tick, ref(p), unref);
  g_source_attach(p->timer, dc_worker_context(p->worker));
  /* candidates that came inside the offer (non-trickle clients) */
  for (guint i = 0; i < offer->media->len; i++) {
    const dc_sdp_media *m = g_ptr_array_index(offer->media, i);
    for (guint c = 0; c < m->candidates->len; c++)
      dc_transport_add_remote_candidate(p->transport, g_array_index(m->candidates, dc_sdp_candidate, c).value);
  }
  /* everyone now receiving this newcomer needs a keyframe from it, once it sends */
  request_keyframe(p);
  p->connect_timer = g_timeout_source_new_seconds(b->connect_timeout_s);
  g_source_set_callback(p->connect_timer, connect_timeout, p, NULL); /* stopped at leave */
  g_source_attach(p->connect_timer, b->main);
  return answer;
}

bool dc_room_pin(dc_room *r, int64_t participant) {
  if (participant && !find(r, participant))
    return false;
  r->pinned = participant;
  reroute_and_tell(r);
  return true;
}

void dc_participant_add_candidate(dc_participant *p, const char *candidate) {
  if (p->transport)
    dc_transport_add_remote_candidate(p->transport, candidate);
}

void dc_participant_set_muted(dc_participant *p, bool muted) {
  g_atomic_int_set(&p->muted, muted);
  g_mutex_lock(&p->room->mix_lock);
  if (p->mix_slot >= 0)
    dc_mixer_set_muted(p->room->mixer, p->mix_slot, muted);
  g_mutex_unlock(&p->room->mix_lock);
}

static gboolean close_on_worker(gpointer data) {
  dc_participant *p = data;
  p->closed = true;
  if (p->timer) {
    g_source_destroy(p->timer);
    g_source_unref(p->timer);
    p->timer = NULL;
  }
  dc_transport_close(p->transport); /* runs now: we are on its worker */
  return G_SOURCE_REMOVE;
}

void dc_participant_leave(dc_participant *p) {
  dc_room *r = p->room;
  p->left = true;
  stop_connect_timer(p);
  g_rw_lock_writer_lock(&r->lock);
  g_mutex_lock(&r->mix_lock);
  if (p->mix_slot >= 0)
    dc_mixer_remove(r->mixer, p->mix_slot);
  p->mix_slot = -1;
  g_mutex_unlock(&r->mix_lock);
  g_ptr_array_remove(r->members, p);
  if (r->pinned == p->id)
    r->pinned = 0;
  g_rw_lock_writer_unlock(&r->lock);
  if (!r->bridge->stopping) /* stopping: everyone leaves; nobody needs new slots */
    reroute_and_tell(r);
  if (p->transport)
    dc_worker_invoke(p->worker, close_on_worker, ref(p), unref);
  unref(p);
}
