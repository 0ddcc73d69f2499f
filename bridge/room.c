/* room.c — participants, transports and plain forwarding; see room.h. */
#include "bridge/room.h"

#include <string.h>
#include <time.h>

#include "media/mixer.h"
#include "media/router.h"
#include "media/rtcp.h"
#include "media/rtp.h"
#include "media/sdp.h"

#define MAX_SLOTS 9
#define HIGHEST_LAYER G_MAXINT
#define PLI_INTERVAL_US 300000 /* a source is asked for a keyframe at most this often */
/* Packets waiting for one receiver's worker. A worker that falls this far behind (about a
 * second of a full meeting's media) drops what comes next, as a lossy link would, rather
 * than queueing without bound. */
#define MAX_PENDING 1024

typedef struct {
  int section;       /* offer section carrying this slot, -1 when unused */
  uint32_t ssrc;     /* ours */
  uint8_t pt;        /* the receiver's payload type for the codec */
  dc_rtp_ext_ids ext; /* the receiver's extension ids */
  /* routing: written on the main thread under the room's writer lock */
  int64_t source;    /* participant feeding the slot, 0 = none */
  int want_layer;    /* 0 = lowest, HIGHEST_LAYER = highest */
  /* audio continuity: the receiver's worker only */
  bool started;
  uint16_t last_seq;
  uint32_t last_ts;
  /* video: continuity and key-frame switching (media/router), the receiver's worker only;
   * what it plays now is published for the sources' workers (atomics) */
  dc_slot core;
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
  int64_t last_spoke_us; /* main thread: when the mixer last named it the dominant speaker */
  bool closed; /* worker thread: the transport is gone */
  gint muted;
  gint pending;  /* deliveries queued for this receiver's worker */
  dc_tier tier;
  int mix_slot;  /* in the room's mixer; -1 until the offer is accepted */
  gint dropped;  /* deliveries refused because the queue was full */
  dc_sdp *offer;
  dc_sdp_negotiation *neg;
  /* as a source (its own worker) */
  int audio_pt, video_pt;
  dc_rtp_ext_ids audio_ext, video_ext;
  int n_layers;
  char rids[DC_SDP_MAX_LAYERS][DC_RTP_ID_MAX + 1];
  uint32_t layer_ssrc[DC_SDP_MAX_LAYERS];
  int64_t layer_seen_us[DC_SDP_MAX_LAYERS]; /* when each layer last arrived */
  int64_t last_pli_us;
  /* as a receiver */
  slot audio;
  slot video[MAX_SLOTS];
  int n_video;
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

struct dc_bridge {
  dc_workers *workers;
  dc_dtls_identity *identity;
  dc_transport_config transport;
  unsigned max_room, talkers;
  dc_speaker_fn on_speaker;
  gpointer speaker_user;
  GHashTable *rooms;
  GMainContext *main;
  GMutex rooms_lock; /* the clock thread walks room_list */
  GPtrArray *room_list;
  GThread *clock;
  gint stop;
};

static gpointer mix_clock(gpointer data);

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
  b->on_speaker = cfg->on_speaker;
  b->speaker_user = cfg->speaker_user;
  b->rooms = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, free_room);
  b->main = g_main_context_ref_thread_default();
  g_mutex_init(&b->rooms_lock);
  b->room_list = g_ptr_array_new();
  b->clock = g_thread_new("dc-mix-clock", mix_clock, b);
  return b;
}

void dc_bridge_free(dc_bridge *b) {
  if (!b)
    return;
  g_atomic_int_set(&b->stop, 1);
  g_thread_join(b->clock);
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
      if (src != rcv && src->neg)
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
      changed |= rcv->video[k].source != source;
      rcv->video[k].source = source;
      rcv->video[k].want_layer = k == 0 ? HIGHEST_LAYER : 0;
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
  for (int i = 0; i < src->n_layers; i++)
    if (src->layer_ssrc[i])
      dc_rtcp_write_pli(&w, 1, src->layer_ssrc[i]);
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
  dc_rtp_ext_ids src_ext;
  size_t len;
  uint8_t buf[DC_TRANSPORT_BUF];
} delivery;

static void release_video(gpointer data) {
  delivery *d = data;
  unref(d->src);
  release(d);
}

/* The receiver's worker: the slot (media/router) decides whether the packet goes out and
 * makes it one continuous stream; keep only the header extensions the receiver negotiated
 * and that are true on its leg: abs-send-time, renumbered. mid/rid would misroute in the
 * receiver; transport-cc numbers belong to the sender's transport. */
static gboolean deliver(gpointer data) {
  delivery *d = data;
  slot *s = d->slot;
  if (d->rcv->closed)
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
  uint64_t now = (uint64_t)g_get_monotonic_time();
  if (dc_slot_forward(&s->core, d->src->id, d->layer, d->buf, d->len, now) == DC_SLOT_SEND)
    dc_transport_send_rtp(d->rcv->transport, d->buf, d->len, sizeof d->buf);
  g_atomic_pointer_set(&s->playing_source, (gpointer)(gintptr)s->core.source);
  g_atomic_int_set(&s->playing_layer, s->core.layer);
  if (dc_slot_needs_keyframe(&s->core) && d->routed)
    request_keyframe(d->src); /* throttled on the source's worker */
  return G_SOURCE_REMOVE;
}

static void forward(dc_participant *rcv, dc_participant *src, slot *s, int layer, int want_layer,
                    bool routed, const uint8_t *buf, size_t len) {
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
  d->src_ext = *src_ext;
  d->len = len;
  memcpy(d->buf, buf, len);
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

/* The source's worker. */
static void on_rtp(gpointer user, uint8_t *buf, size_t len, size_t cap) {
  dc_participant *src = user;
  dc_rtp pkt;
  if (dc_rtp_parse(&pkt, buf, len) != DC_OK)
    return;
  bool audio = pkt.payload_type == src->audio_pt;
  if (!audio && pkt.payload_type != src->video_pt)
    return; /* RTX and anything else: the router issue repairs losses */
  if (audio) {
    if (g_atomic_int_get(&src->muted) || src->mix_slot < 0)
      return;
    bool voice;
    uint8_t dbov;
    int level = src->audio_ext.audio_level && dc_rtp_audio_level(&pkt, src->audio_ext.audio_level, &voice, &dbov)
                    ? dbov : -1;
    g_mutex_lock(&src->room->mix_lock);
    dc_mixer_push(src->room->mixer, src->mix_slot, &pkt, level, (uint64_t)g_get_monotonic_time());
    g_mutex_unlock(&src->room->mix_lock);
    return;
  }
  int layer = layer_of(src, &pkt);
  if (layer < 0)
    return;
  /* A sender drops its top layers at low resolution or under load: "highest" and "lowest"
   * mean of the layers arriving now (seen within the last second). */
  int64_t now = g_get_monotonic_time();
  int lowest = -1, highest = -1;
  if (!audio) {
    src->layer_seen_us[layer] = now;
    for (int i = 0; i < src->n_layers; i++)
      if (src->layer_seen_us[i] && now - src->layer_seen_us[i] < G_USEC_PER_SEC) {
        if (lowest < 0)
          lowest = i;
        highest = i;
      }
  }
  dc_room *r = src->room;
  g_rw_lock_reader_lock(&r->lock);
  for (guint i = 0; i < r->members->len; i++) {
    dc_participant *rcv = g_ptr_array_index(r->members, i);
    if (rcv == src)
      continue;
    for (int k = 0; k < rcv->n_video; k++) {
      slot *s = &rcv->video[k];
      int want = s->want_layer == HIGHEST_LAYER ? highest : lowest;
      bool routed = s->source == src->id && layer == want;
      /* until the slot has switched, what it plays now keeps flowing */
      bool playing = s->source != 0 &&
                     (gintptr)g_atomic_pointer_get(&s->playing_source) == src->id &&
                     g_atomic_int_get(&s->playing_layer) == layer;
      if (routed || playing)
        forward(rcv, src, s, layer, want, s->source == src->id, buf, len);
    }
  }
  g_rw_lock_reader_unlock(&r->lock);
}

/* The receiver's worker: keyframe requests for our slots go to the slot's source. */
static void on_rtcp(gpointer user, uint8_t *buf, size_t len) {
  dc_participant *rcv = user;
  dc_rtcp_iter it;
  dc_rtcp_pkt pkt;
  if (dc_rtcp_validate(buf, len) != DC_OK)
    return;
  dc_rtcp_iter_init(&it, buf, len);
  while (dc_rtcp_next(&it, &pkt) == DC_OK) {
    dc_rtcp_kind kind = dc_rtcp_kind_of(&pkt);
    dc_rtcp_fb fb;
    if ((kind != DC_RTCP_PLI && kind != DC_RTCP_FIR) || dc_rtcp_parse_fb(&pkt, &fb) != DC_OK)
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
  dc_transport_send_rtp(d->rcv->transport, buf, hl + d->len, sizeof buf);
  return G_SOURCE_REMOVE;
}

typedef struct {
  dc_bridge *bridge;
  int64_t meeting, participant;
} speaker_event;

static gboolean speaker_on_main(gpointer data) {
  speaker_event *e = data;
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

static void tick_room(dc_room *r, uint64_t now) {
  GPtrArray *out = g_ptr_array_new();
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
    speaker_event *e = g_new(speaker_event, 1);
    *e = (speaker_event){r->bridge, r->meeting, speaker};
    g_main_context_invoke_full(r->bridge->main, G_PRIORITY_DEFAULT, speaker_on_main, e, g_free);
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

static gboolean event_on_main(gpointer data) {
  event *e = data;
  dc_participant *p = e->p;
  if (p->left)
    return G_SOURCE_REMOVE;
  if (e->candidate)
    p->ev.candidate(p->user, e->candidate);
  else
    p->ev.state(p->user, e->state, e->reason);
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
  /* a referenced copy: the callbacks run unlocked. The copy keeps r->members' free
   * function (unref), which gives the references back. */
  GPtrArray *members = g_ptr_array_copy(r->members, ref_copy, NULL);
  g_rw_lock_writer_unlock(&r->lock);
  for (guint i = 0; i < members->len; i++) {
    dc_participant *p = g_ptr_array_index(members, i);
    int64_t sources[MAX_SLOTS];
    for (int k = 0; k < p->n_video; k++)
      sources[k] = p->video[k].source;
    if (!p->left && p->neg && p->ev.slots)
      p->ev.slots(p->user, sources, p->n_video);
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
  p->audio_pt = p->video_pt = -1;
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
  dc_slot_init(&s->core, s->ssrc, s->pt);
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
      p->n_video++;
      bool sends = sec->offered_dir == DC_SDP_SENDRECV || sec->offered_dir == DC_SDP_SENDONLY;
      if (first_video < 0 && sends) {
        first_video = (int)i; /* the camera comes up in the first sending video section */
        p->video_pt = sec->pt;
        p->video_ext = sec->ext;
        p->n_layers = sec->n_rids ? sec->n_rids : 1;
        for (int k = 0; k < sec->n_rids; k++)
          g_strlcpy(p->rids[k], sec->rids[k]->rid, sizeof p->rids[k]);
      }
    }
  }
  p->offer = offer;
  p->neg = neg;
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
  /* candidates that came inside the offer (non-trickle clients) */
  for (guint i = 0; i < offer->media->len; i++) {
    const dc_sdp_media *m = g_ptr_array_index(offer->media, i);
    for (guint c = 0; c < m->candidates->len; c++)
      dc_transport_add_remote_candidate(p->transport, g_array_index(m->candidates, dc_sdp_candidate, c).value);
  }
  /* everyone now receiving this newcomer needs a keyframe from it, once it sends */
  request_keyframe(p);
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
  dc_transport_close(p->transport); /* runs now: we are on its worker */
  return G_SOURCE_REMOVE;
}

void dc_participant_leave(dc_participant *p) {
  dc_room *r = p->room;
  p->left = true;
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
  reroute_and_tell(r);
  if (p->transport)
    dc_worker_invoke(p->worker, close_on_worker, ref(p), unref);
  unref(p);
}
