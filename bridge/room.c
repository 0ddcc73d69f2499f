/* room.c — the bridge and its rooms, membership, transport events: the bridge's main-thread
 * side of a meeting (who fills whose slots, and at what layer: slots.c); see room.h and
 * room_private.h. */
#include "bridge/room_private.h"

#include "bridge/outbox.h"
#include "bridge/worker.h"

#include <string.h>

/* The highland mix's copies are the mixer's smaller encode of it; their RED block headers
 * (4 bytes a 60 ms packet) add about 600 bit/s. Other tiers' copies are the frame again. */
const dc_link_profile link_profiles[DC_TIER_COUNT] = {
    [DC_TIER_HALL] = {3000000, 10000000, 2500000, 48000 + 24000, 48000, 48000},
    [DC_TIER_STANDARD] = {1500000, 4000000, 1200000, 32000 + 24000, 32000, 32000},
    [DC_TIER_HIGHLAND] = {150000, 256000, 150000, 16000 + 8000, 16000, DC_MIX_COPY_BITRATE + 600},
};

uint64_t dc_audio_down_policy_bps(dc_tier tier, bool takes_red, unsigned loss_256, bool loss_in_runs,
                                  bool red_always) {
  const dc_link_profile *profile = &link_profiles[tier];
  unsigned copies = takes_red && loss_256 ? dc_mixer_red_depth_policy(tier, loss_256, loss_in_runs) : 0;
  if (takes_red && red_always) /* audio.c sends one then */
    copies = MAX(copies, 1u);
  return profile->audio_bps + copies * profile->mix_copy_bps;
}

uint64_t dc_audio_down_bps(const dc_participant *rcv) {
  return dc_audio_down_policy_bps(rcv->tier, rcv->audio.red_pt >= 0,
                                  (unsigned)g_atomic_int_get(&rcv->audio_loss_pub), /* non-zero while RED goes */
                                  g_atomic_int_get(&rcv->deep_red_pub) != 0,
                                  rcv->room->bridge->red_always);
}

uint64_t dc_audio_up_bps(const dc_participant *src) {
  /* a browser asked for RED sends one earlier frame in each packet */
  const dc_link_profile *profile = &link_profiles[src->tier];
  return profile->audio_bps + (src->audio_red_asked ? profile->red_copy_bps : 0);
}

/* What the answer asks of a point's Opus, by tier (media/mixer's tiers): its rate, its packet
 * time (60 ms at the highland rate: a third of the packets' overhead) and FEC; RED is
 * answered for every tier (the bridge sends it only to a receiver that reports loss), and
 * listed first for the highland tier so that a highland point sends it too: what its uplink
 * loses is lost for everyone. mix_level: the mix toward the point carries the audio-level
 * extension (RFC 6464) when negotiated. Not toward a highland point: no client of ours reads
 * the mix's level (speakers come in signaling), and its 8 bytes are 3-4 % of a 60 ms packet
 * with its RED copy on a 32 kbit/s link. The point's own levels still come to us: the
 * extension stays negotiated, as RFC 8285 lets either side leave it out of a packet. */
static const struct {
  const char *fmtp;
  unsigned ptime;
  bool red_uplink;
  bool mix_level;
} audio_answer[DC_TIER_COUNT] = {
    [DC_TIER_HALL] = {"minptime=10;useinbandfec=1;usedtx=1", 0, false, true},
    [DC_TIER_STANDARD] = {"minptime=10;useinbandfec=1;usedtx=1;maxaveragebitrate=32000", 0, false, true},
    [DC_TIER_HIGHLAND] = {"minptime=10;useinbandfec=1;usedtx=1;maxaveragebitrate=16000", 60, true, false},
};

/* What a point that sends no camera is asked to step its audio down to while its uplink
 * queues it (media/uplink_audio.h: only its audio is on that uplink, and a highland point
 * asked for RED sends it twice), the answer's rate first; the hall tier's LAN is not watched.
 * RED at 10 kbit/s is ~30 kbit/s on the wire, what a 32 kbit/s link carries. */
static const uint32_t uplink_steps[DC_TIER_COUNT][DC_UPLINK_STEPS] = {
    [DC_TIER_STANDARD] = {32000, 24000, 16000, 12000},
    [DC_TIER_HIGHLAND] = {16000, 12000, 10000, 8000},
};

static void forget_room(dc_room *r);
static void release_room(gpointer data);

dc_participant *room_ref(dc_participant *p) {
  g_atomic_int_inc(&p->refs);
  return p;
}

void room_unref(gpointer data) {
  dc_participant *p = data;
  if (!g_atomic_int_dec_and_test(&p->refs))
    return;
  dc_sdp_negotiation_free(p->neg);
  dc_sdp_free(p->offer);
  dc_packet_cache_free(p->cache);
  g_free(p->layer_rx);
  g_free(p->fec);
  dc_pacer_free(p->pacer);
  g_array_unref(p->audience);
  g_free(p->name);
  dc_room *r = p->room;
  g_free(p);
  release_room(r);
}

/* ---- bridge and rooms ---- */

static void release_room(gpointer data) {
  dc_room *r = data;
  if (!g_atomic_int_dec_and_test(&r->refs))
    return;
  g_ptr_array_unref(r->members);
  g_rw_lock_clear(&r->lock);
  dc_mixer_free(r->mixer);
  g_mutex_clear(&r->mix_lock);
  g_mutex_clear(&r->rec_lock);
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
  if (cfg->no_io_uring) {
    dc_outbox_use_ring(false);
    dc_workers_read_by_ring(false);
    g_message("io_uring off (no-io-uring): media datagrams are sent and read by a system call a peer");
  }
  b->workers = dc_workers_new(cfg->workers);
  b->max_room = cfg->max_room ? cfg->max_room : 512;
  b->talkers = cfg->talkers ? MIN(cfg->talkers, DC_MIX_MAX_TALKERS) : 3;
  b->big_room = cfg->big_room;
  b->no_red = cfg->no_red;
  b->red_always = cfg->red_always && !cfg->no_red;
  b->no_video_fec = cfg->no_video_fec;
  b->no_silence_filter = cfg->no_silence_filter;
  b->no_realtime_clock = cfg->no_realtime_clock;
  if (cfg->no_silence_filter)
    g_message("silence filter off (no-silence-filter): muted points' silent audio is read like any packet");
  b->connect_timeout_s = cfg->connect_timeout_s ? cfg->connect_timeout_s : DC_CONNECT_TIMEOUT_S;
  b->on_speaker = cfg->on_speaker;
  b->speaker_user = cfg->speaker_user;
  b->on_recording = cfg->on_recording;
  b->recording_user = cfg->recording_user;
  b->rooms = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, release_room);
  b->main = g_main_context_ref_thread_default();
  g_mutex_init(&b->rooms_lock);
  b->room_list = g_ptr_array_new();
  b->clock = g_thread_new("dc-mix-clock", mix_clock_run, b);
  b->layer_timer = g_timeout_source_new(TICK_MS);
  g_source_set_callback(b->layer_timer, room_choose_layers_all, b, NULL);
  g_source_attach(b->layer_timer, b->main);
  return b;
}

/* The room's recorder, out of everyone's reach: nothing pushes to it after this returns. */
static dc_recorder *take_recorder(dc_room *r) {
  g_mutex_lock(&r->rec_lock);
  dc_recorder *rec = r->rec;
  r->rec = NULL;
  g_atomic_int_set(&r->rec_on, 0);
  g_mutex_unlock(&r->rec_lock);
  return rec;
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
  /* recordings are finished here, with no main loop to carry their end */
  GHashTableIter it;
  gpointer room;
  g_hash_table_iter_init(&it, b->rooms);
  while (g_hash_table_iter_next(&it, NULL, &room)) {
    dc_recorder *rec = take_recorder(room);
    if (rec)
      dc_recorder_stop_wait(rec, 5000);
  }
}

void dc_bridge_free(dc_bridge *b) {
  if (!b)
    return;
  dc_bridge_stop(b);
  g_source_unref(b->layer_timer);
  /* the closes the leaves queued run on the workers; TURN relays need their server's answer */
  if (b->transport.turn_host && !dc_transport_wait_relays(2000))
    g_warning("a TURN server did not answer within 2 s: its relays end by themselves");
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

dc_room *dc_bridge_find_room(dc_bridge *b, int64_t meeting_id) {
  return g_hash_table_lookup(b->rooms, &meeting_id);
}

dc_room *dc_bridge_room(dc_bridge *b, int64_t meeting_id) {
  dc_room *r = g_hash_table_lookup(b->rooms, &meeting_id);
  if (!r) {
    r = g_new0(dc_room, 1);
    r->refs = 1; /* the table's */
    r->bridge = b;
    r->meeting = meeting_id;
    g_rw_lock_init(&r->lock);
    r->members = g_ptr_array_new_with_free_func(room_unref);
    g_mutex_init(&r->mix_lock);
    g_mutex_init(&r->rec_lock);
    r->rec_mix_slot = -1;
    dc_mixer_config mc = {.max_participants = b->max_room, .talkers = b->talkers, .big_tier = b->big_room};
    r->mixer = dc_mixer_new(&mc, NULL);
    g_hash_table_insert(b->rooms, g_memdup2(&meeting_id, sizeof meeting_id), r);
    g_mutex_lock(&b->rooms_lock);
    g_ptr_array_add(b->room_list, r);
    g_mutex_unlock(&b->rooms_lock);
  }
  return r;
}

unsigned dc_room_size(const dc_room *r) { return r->members->len; }

dc_participant *room_find(dc_room *r, int64_t id) {
  for (guint i = 0; i < r->members->len; i++)
    if (((dc_participant *)g_ptr_array_index(r->members, i))->id == id)
      return g_ptr_array_index(r->members, i);
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
  room_unref(e->p);
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
  room_reroute_and_tell(p->room);
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

void room_post_main(dc_bridge *b, GSourceFunc fn, gpointer data, GDestroyNotify destroy) {
  GSource *src = g_idle_source_new();
  g_source_set_priority(src, G_PRIORITY_DEFAULT); /* as g_main_context_invoke gave them */
  g_source_set_callback(src, fn, data, destroy);
  g_source_attach(src, b->main);
  g_source_unref(src);
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
      dc_participant *src = room_find(r, p->video[k].source);
      if (src) /* its layer is not chosen yet: every layer */
        room_request_keyframe(src, -1, PLI_INTERVAL_US);
    }
    g_rw_lock_reader_unlock(&r->lock);
  }
  return G_SOURCE_REMOVE;
}

static void on_candidate(gpointer user, const char *candidate) {
  dc_participant *p = user;
  event *e = g_new0(event, 1);
  e->p = room_ref(p);
  e->candidate = g_strdup(candidate);
  room_post_main(p->room->bridge, event_on_main, e, free_event);
}

static void on_state(gpointer user, dc_transport_state state, const char *reason) {
  dc_participant *p = user;
  if (state != DC_TRANSPORT_NEW && state != DC_TRANSPORT_CONNECTED)
    p->closed = true; /* failed or closed: no more sends on this worker */
  event *e = g_new0(event, 1);
  e->p = room_ref(p);
  e->state = state;
  e->reason = g_strdup(reason);
  room_post_main(p->room->bridge, event_on_main, e, free_event);
}

typedef struct {
  dc_participant *p;
  unsigned bps;
} rate_event;

static gboolean audio_rate_on_main(gpointer data) {
  rate_event *e = data;
  dc_participant *p = e->p;
  if (!p->left) {
    if (e->bps)
      g_message("meeting %" G_GINT64_FORMAT " participant %" G_GINT64_FORMAT ": its uplink queues its audio: "
                "asking for %u kbit/s", p->room->meeting, p->id, e->bps / 1000);
    else
      g_message("meeting %" G_GINT64_FORMAT " participant %" G_GINT64_FORMAT ": its uplink carries its audio again",
                p->room->meeting, p->id);
    if (p->ev.audio_rate)
      p->ev.audio_rate(p->user, e->bps);
  }
  return G_SOURCE_REMOVE;
}

static void free_rate_event(gpointer data) {
  rate_event *e = data;
  room_unref(e->p);
  g_free(e);
}

void room_tell_audio_rate(dc_participant *p, unsigned bps) {
  rate_event *e = g_new0(rate_event, 1);
  e->p = room_ref(p);
  e->bps = bps;
  room_post_main(p->room->bridge, audio_rate_on_main, e, free_rate_event);
}

/* ---- membership (main thread) ---- */

dc_participant *dc_room_join(dc_room *r, int64_t id, const char *name, const char *profile, unsigned audio_wait_ms,
                             const dc_participant_events *ev, gpointer user) {
  dc_participant *p = g_new0(dc_participant, 1);
  p->mix_slot = -1;
  p->audience = g_array_new(FALSE, FALSE, sizeof(dc_seat));
  p->rtt_ms_pub = p->loss_down_pub = p->loss_up_pub = p->audio_loss_now_pub = -1;
  dc_uplink_loss_init(&p->uplink_loss);
  if (!dc_tier_from_name(profile, &p->tier))
    p->tier = DC_TIER_STANDARD;
  p->audio_wait_ms = (gint)MIN(audio_wait_ms, (unsigned)G_MAXINT);
  p->refs = 1;
  p->id = id;
  p->name = g_strdup(name);
  p->room = r;
  g_atomic_int_inc(&r->refs);
  p->ev = *ev;
  p->user = user;
  p->audio.section = -1;
  p->audio_pt = p->video_pt = p->rtx_pt = p->audio_red_pt = -1;
  p->video_red_pt = p->ulpfec_pt = p->red_rtx_pt = -1;
  p->audio.red_pt = -1;
  g_rw_lock_writer_lock(&r->lock);
  g_ptr_array_add(r->members, room_ref(p));
  g_rw_lock_writer_unlock(&r->lock);
  return p; /* the caller's reference, given back by dc_participant_leave */
}

static void setup_slot(slot *s, int section, const dc_sdp_section *sec) {
  s->section = section;
  s->ssrc = (uint32_t)g_random_int_range(0x10000, G_MAXINT32);
  s->pt = (uint8_t)sec->pt;
  s->ext = sec->ext;
  s->rtx_pt = sec->kind == DC_SDP_VIDEO ? sec->rtx_pt : -1;
  s->red_pt = -1;
  s->keep_tid = -1;
  s->rtx_ssrc = s->rtx_pt >= 0 ? (uint32_t)g_random_int_range(0x10000, G_MAXINT32) : 0;
  s->rtx_seq = (uint16_t)g_random_int();
  dc_slot_init(&s->core, s->ssrc, s->pt);
  dc_upgrade_guard_init(&s->guard);
  s->playing_source = (gpointer)(gintptr)DC_SLOT_NONE;
}

/* The worker: its housekeeping starts (before any close, which comes through the same mailbox). */
static gboolean start_tick_on_worker(gpointer data) {
  dc_participant *p = data;
  if (!p->closed && !p->tick)
    p->tick = dc_worker_every(p->worker, TICK_MS, video_tick, room_ref(p), room_unref);
  return G_SOURCE_REMOVE;
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
  /* A point past the mixer's places used to be let in without any sound, the log its only
   * witness; it is told instead, before anything of it is set up, and asks again later. */
  g_mutex_lock(&p->room->mix_lock);
  bool full = neg->audio >= 0 && dc_mixer_get_stats(p->room->mixer).participants >= b->max_room;
  g_mutex_unlock(&p->room->mix_lock);
  if (full) {
    g_set_error(error, DC_MEDIA_ERROR, DC_MEDIA_ERROR_FULL,
                "the meeting is full: all %u of its places with sound are taken; try again when a point leaves",
                b->max_room);
    dc_sdp_negotiation_free(neg);
    dc_sdp_free(offer);
    return NULL;
  }
  p->worker = dc_workers_pick(b->workers);
  dc_transport_callbacks cb = {.candidate = on_candidate, .state = on_state, .rtp = source_on_rtp,
                               .rtcp = feedback_on_rtcp, .prefetch = source_prefetch, .rtt = feedback_on_rtt};
  p->transport = dc_transport_new(p->worker, b->identity, &b->transport, &cb, room_ref(p), room_unref);

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
      if (!audio_answer[p->tier].mix_level)
        p->audio.ext.audio_level = 0; /* toward it only: its own packets' levels are read (p->audio_ext) */
      send[i].ssrc = p->audio.ssrc;
      p->audio_pt = sec->pt;
      p->audio.red_pt = b->no_red ? -1 : sec->red_pt;
      /* RED is taken from any point it was negotiated with (webrtcbin sends it, without
       * copies, whichever codec the answer lists first); only a highland point is asked for it */
      p->audio_red_pt = b->no_red ? -1 : sec->red_pt;
      p->audio_red_asked = p->audio_red_pt >= 0 && audio_answer[p->tier].red_uplink;
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
        /* A highland camera's losses are repaired faster by its own parity than by a NACK
         * across a 600 ms round trip: the answer asks it for ULPFEC, which Chrome sends as
         * its loss and round trip call for. */
        if (p->tier == DC_TIER_HIGHLAND && !b->no_video_fec && dc_sdp_section_takes_fec(sec)) {
          send[i].take_fec = true;
          p->video_red_pt = sec->video_red_pt;
          p->ulpfec_pt = sec->ulpfec_pt;
          p->red_rtx_pt = sec->red_rtx_pt;
          p->fec = g_new0(dc_ulpfec_store, 1);
        }
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
        p->layer_rx = g_new0(dc_rx_stream, p->n_layers);
      }
    }
  }
  if (first_video < 0) /* before its transport's first packet: its worker reads it from then */
    dc_uplink_audio_init(&p->uplink, uplink_steps[p->tier], DC_UPLINK_STEPS);
  p->offer = offer;
  p->neg = neg;
  p->rtcp_ssrc = (uint32_t)g_random_int_range(0x10000, G_MAXINT32);
  dc_bwe_init(&p->bwe, link_profiles[p->tier].initial_bps, BWE_FLOOR_BPS, link_profiles[p->tier].ceiling_bps);
  dc_bwe_init(&p->up_bwe, link_profiles[p->tier].send_bps, BWE_FLOOR_BPS, link_profiles[p->tier].send_bps);
  dc_uplink_video_init(&p->up_queue);
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
  room_reroute_and_tell(r);

  /* A highland point's camera hears its cap in the answer too (b=AS: what our REMB says before
   * any loss, its profile less its audio): before our first REMB, Chrome sent its start rate
   * and probe bursts far above it, and a 128 kbit/s link's queue dropped 30-70 of its packets
   * in the call's first seconds. */
  unsigned video_max_kbps =
      p->tier == DC_TIER_HIGHLAND ? (unsigned)((link_profiles[p->tier].send_bps - dc_audio_up_bps(p)) / 1000) : 0;
  dc_sdp_answer_params params = {
      .ice_ufrag = dc_transport_local_ufrag(p->transport),
      .ice_pwd = dc_transport_local_pwd(p->transport),
      .fingerprint = dc_bridge_fingerprint(b),
      .cname = "diemcau",
      .session_id = (uint64_t)g_get_real_time(),
      .audio_fmtp = audio_answer[p->tier].fmtp,
      .audio_ptime = audio_answer[p->tier].ptime,
      .audio_red = !b->no_red,
      .audio_red_first = !b->no_red && audio_answer[p->tier].red_uplink,
      .video_max_kbps = video_max_kbps,
      .send = send};
  char *answer = dc_sdp_write_answer(neg, &params);
  if (!b->no_silence_filter && p->audio_pt >= 0 && p->audio_ext.audio_level)
    dc_transport_drop_silence(p->transport, p->audio_pt, p->audio_red_pt, p->audio_ext.audio_level);
  dc_transport_start(p->transport, neg->ice_ufrag, neg->ice_pwd, neg->fingerprint, neg->dtls_server);
  dc_worker_invoke(p->worker, start_tick_on_worker, room_ref(p), room_unref);
  /* candidates that came inside the offer (non-trickle clients) */
  for (guint i = 0; i < offer->media->len; i++) {
    const dc_sdp_media *m = g_ptr_array_index(offer->media, i);
    for (guint c = 0; c < m->candidates->len; c++)
      dc_transport_add_remote_candidate(p->transport, g_array_index(m->candidates, dc_sdp_candidate, c).value);
  }
  /* everyone now receiving this newcomer needs a keyframe from it, once it sends */
  room_request_keyframe(p, -1, PLI_INTERVAL_US);
  p->connect_timer = g_timeout_source_new_seconds(b->connect_timeout_s);
  g_source_set_callback(p->connect_timer, connect_timeout, p, NULL); /* stopped at leave */
  g_source_attach(p->connect_timer, b->main);
  return answer;
}

bool dc_room_pin(dc_room *r, int64_t participant) {
  if (participant && !room_find(r, participant))
    return false;
  r->pinned = participant;
  room_reroute_and_tell(r);
  return true;
}

/* ---- the recording ---- */

typedef struct {
  dc_room *room;
  dc_recorder *rec;
} recording;

static void recording_done(gpointer data, const char *error) {
  recording *rc = data;
  dc_room *r = rc->room;
  g_mutex_lock(&r->rec_lock);
  /* stopped, it was taken out already (and another may have started since) */
  bool by_itself = r->rec == rc->rec;
  if (by_itself) {
    r->rec = NULL;
    g_atomic_int_set(&r->rec_on, 0);
  }
  g_mutex_unlock(&r->rec_lock);
  g_free(rc);
  if (by_itself) {
    g_mutex_lock(&r->mix_lock);
    dc_mixer_remove(r->mixer, r->rec_mix_slot);
    r->rec_mix_slot = -1;
    g_mutex_unlock(&r->mix_lock);
  }
  if (error)
    g_warning("meeting %" G_GINT64_FORMAT ": the recording stopped: %s", r->meeting, error);
  else
    g_message("meeting %" G_GINT64_FORMAT ": the recording is finished", r->meeting);
  if (r->bridge->on_recording && !r->bridge->stopping)
    r->bridge->on_recording(r->bridge->recording_user, r->meeting, error);
  forget_room(r);
  release_room(r); /* the recording's reference */
}

bool dc_room_record_start(dc_room *r, const char *audio_path, const char *video_path, int64_t *started_at_ms,
                          GError **error) {
  if (dc_room_recording(r)) {
    g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_EXIST, "the meeting is being recorded already");
    return false;
  }
  recording *rc = g_new(recording, 1);
  rc->room = r; /* its end comes on the main loop, maybe after everyone left */
  g_atomic_int_inc(&r->refs);
  gint64 asked_us = g_get_monotonic_time();
  dc_recorder *rec = rc->rec = dc_recorder_start(audio_path, video_path, r->bridge->main, recording_done, rc, error);
  if (!rec) {
    g_free(rc);
    release_room(r);
    return false;
  }
  g_mutex_lock(&r->mix_lock);
  r->rec_mix_slot = dc_mixer_add(r->mixer, DC_TIER_HALL); /* the hall's mix: the best there is */
  if (r->rec_mix_slot >= 0)
    dc_mixer_set_muted(r->mixer, r->rec_mix_slot, true);
  g_mutex_unlock(&r->mix_lock);
  g_mutex_lock(&r->rec_lock);
  /* our own SSRC: the recorded stream is nobody's; the switch to the first source waits for
   * its key frame, which the first packet from it asks for */
  dc_slot_init(&r->rec_video, g_random_int(), DC_RECORDER_VP8_PT);
  g_atomic_pointer_set(&r->rec_playing, (gpointer)(gintptr)DC_SLOT_NONE);
  /* the time line's zero, on both clocks: once the pipeline is ready, as the media comes */
  dc_recorder_begin(rec, (uint64_t)g_get_monotonic_time());
  if (started_at_ms)
    *started_at_ms = g_get_real_time() / 1000;
  r->rec = rec;
  g_atomic_int_set(&r->rec_on, 1);
  g_mutex_unlock(&r->rec_lock);
  /* the pipeline's start, with the first one's plugin loading, holds up the main loop: said */
  g_message("meeting %" G_GINT64_FORMAT ": recording to %s and %s (ready in %.1f s)", r->meeting, audio_path, video_path,
            (double)(g_get_monotonic_time() - asked_us) / 1e6);
  return true;
}

bool dc_room_record_stop(dc_room *r) {
  dc_recorder *rec = take_recorder(r);
  if (!rec)
    return false;
  g_mutex_lock(&r->mix_lock);
  dc_mixer_remove(r->mixer, r->rec_mix_slot);
  r->rec_mix_slot = -1;
  g_mutex_unlock(&r->mix_lock);
  dc_recorder_stop(rec); /* recording_done follows, once both files are finished */
  return true;
}

bool dc_room_recording(dc_room *r) {
  g_mutex_lock(&r->rec_lock);
  bool on = r->rec != NULL;
  g_mutex_unlock(&r->rec_lock);
  return on;
}

void dc_participant_set_audio_wait(dc_participant *p, unsigned audio_wait_ms) {
  g_atomic_int_set(&p->audio_wait_ms, (gint)MIN(audio_wait_ms, (unsigned)G_MAXINT));
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

void dc_participant_set_observer(dc_participant *p) {
  g_atomic_int_set(&p->observer, 1);
  dc_participant_set_muted(p, true);
}

static gboolean close_on_worker(gpointer data) {
  dc_participant *p = data;
  p->closed = true;
  if (p->tick) {
    dc_worker_stop_tick(p->tick);
    p->tick = NULL;
  }
  dc_transport_close(p->transport); /* runs now: we are on its worker */
  return G_SOURCE_REMOVE;
}

/* Main thread, when the last member left or a recording ended: a room with nobody in it that
 * records nothing leaves the mix clock's list and the bridge's table (a bridge that runs for
 * months holds many meetings; a room kept for each cost its mixer and a tick every 20 ms for
 * good). Its memory goes with the last participant's reference; a later join to the meeting
 * makes a new room. */
static void forget_room(dc_room *r) {
  dc_bridge *b = r->bridge;
  if (r->members->len || b->stopping || dc_room_recording(r) || g_hash_table_lookup(b->rooms, &r->meeting) != r)
    return;
  g_mutex_lock(&b->rooms_lock);
  g_ptr_array_remove(b->room_list, r);
  g_mutex_unlock(&b->rooms_lock);
  g_hash_table_remove(b->rooms, &r->meeting);
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
  room_seat_audiences(r); /* its seats in others' audiences go with it, and its own */
  g_array_set_size(p->audience, 0);
  g_rw_lock_writer_unlock(&r->lock);
  if (!r->bridge->stopping) /* stopping: everyone leaves; nobody needs new slots */
    room_reroute_and_tell(r);
  if (p->transport)
    dc_worker_invoke(p->worker, close_on_worker, room_ref(p), room_unref);
  forget_room(r);
  room_unref(p);
}
