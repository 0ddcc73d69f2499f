/* slots.c — who fills each receiver's video slots (the most recent speakers, the host's pin
 * first) and at which simulcast layer each goes under the receiver's estimate; and telling
 * each participant when its slots change. Main thread. See room_private.h. */
#include "bridge/room_private.h"

#include <string.h>

static void tell_slots(dc_room *r);

/* Order of the other participants for a receiver's slots: most recent speaker first (the
 * dominant one has the newest time), never-speakers after, in join order. */
static int by_recent_speech(gconstpointer a, gconstpointer b) {
  const dc_participant *x = *(dc_participant *const *)a, *y = *(dc_participant *const *)b;
  return x->last_spoke_us == y->last_spoke_us ? 0 : x->last_spoke_us > y->last_spoke_us ? -1 : 1;
}

/* Main thread, writer lock held by the caller. Returns whether any slot changed. */
static bool reroute(dc_room *r) {
  bool changed = false;
  int64_t now = g_get_monotonic_time();
  GPtrArray *others = g_ptr_array_new();
  /* the recording's picture: what a main slot shows to someone who is nobody in the room,
   * but one whose camera sends before one whose does not: with nobody speaking yet the first
   * to join was recorded, a point without a camera as often as not, and the file held no
   * picture (fec-in-the-daemon failed one run in three for it). A camera's first packet
   * reroutes while the choice has none (source.c). */
  int64_t recorded = 0, latest = G_MININT64;
  bool pin_found = false, camera = false;
  for (guint j = 0; j < r->members->len && !pin_found; j++) {
    dc_participant *src = g_ptr_array_index(r->members, j);
    if (!src->neg || !src->connected || g_atomic_int_get(&src->observer))
      continue;
    pin_found = r->pinned && src->id == r->pinned;
    bool sends = g_atomic_int_get(&src->camera_seen_pub) != 0;
    if (pin_found || (sends && !camera) || (sends == camera && src->last_spoke_us > latest)) { /* join order among equals */
      recorded = src->id;
      latest = src->last_spoke_us;
      camera = sends;
    }
  }
  g_atomic_int_set(&r->rec_source_camera, camera);
  g_atomic_pointer_set(&r->rec_source, (gpointer)(gintptr)recorded);
  /* One order for every receiver, each skipping itself: sorting the others anew for each
   * receiver was N sorts of N a call (a tenth of the bridge's CPU in a storm of 300). */
  for (guint j = 0; j < r->members->len; j++) {
    dc_participant *src = g_ptr_array_index(r->members, j);
    if (src->neg && src->connected && !g_atomic_int_get(&src->observer)) /* one that sends nothing takes no slot */
      g_ptr_array_add(others, src);
  }
  g_ptr_array_sort(others, by_recent_speech); /* stable: join order among equals */
  for (guint j = 1; j < others->len; j++) /* the host's pin goes first */
    if (((dc_participant *)g_ptr_array_index(others, j))->id == r->pinned) {
      gpointer pin = g_ptr_array_steal_index(others, j);
      g_ptr_array_insert(others, 0, pin);
      break;
    }
  for (guint i = 0; i < r->members->len; i++) {
    dc_participant *rcv = g_ptr_array_index(r->members, i);
    guint next = 0;
    for (int k = 0; k < rcv->n_video; k++) {
      if (next < others->len && g_ptr_array_index(others, next) == rcv)
        next++;
      int64_t source = next < others->len ? ((dc_participant *)g_ptr_array_index(others, next++))->id : 0;
      if (rcv->video[k].source != source) {
        changed = true;
        rcv->video[k].left_source = rcv->video[k].source;
        rcv->video[k].left_at_us = now;
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
      dc_participant *src = room_find(r, rcv->video[k].source);
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
    uint64_t audio = dc_audio_down_bps(rcv);
    dc_choose_layers(estimate > audio ? estimate - audio : 0, sources, rcv->n_video, !rcv->video[0].off, chosen);
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
      if (k == 0) {
        chosen[k] = dc_upgrade_guard_apply(&s->guard, off ? DC_LAYER_OFF : chosen[k], now);
        gint failed = g_atomic_int_get(&rcv->probes_failed);
        if (failed != s->probes_failed_seen) {
          s->probes_failed_seen = failed;
          dc_upgrade_guard_probe_failed(&s->guard, now);
        }
        /* The next step up, when the estimate does not reach it, is probed for (see
         * media/router dc_probe): for a main slot that is off, what brings it back (half its
         * lowest layer, thinned); else the estimate plus what the next layer costs more (a
         * thinned slot needs none: what it sends lifts the estimate to its next thinning step,
         * and a probe for the whole layer on a 128 kbit/s link failed more than it passed). At
         * most twice the estimate at a time (a step that passes lifts the estimate and the
         * next probe starts from there): a failed probe fills the link's queue until the
         * receiver says so, and on a thin link a probe at three times the estimate cost the
         * audio. */
        unsigned probe_kbps = 0;
        uint64_t target = 0, need = 0; /* the probe's goal; what the step needs at least */
        int lowest = dc_source_lowest_layer(&layers[k]);
        if (chosen[k] == DC_LAYER_OFF && lowest != DC_LAYER_OFF) {
          target = need = audio + layers[k].layer_bps[lowest] / 2 + layers[k].layer_bps[lowest] / 20;
        } else if (chosen[k] >= 0 && audio + dc_source_layer_cost(&layers[k], chosen[k]) > estimate) {
          target = 0; /* thinned */
        } else {
          for (int l = chosen[k] + 1; chosen[k] >= 0 && l < layers[k].n_layers && !target; l++) {
            uint64_t next = dc_source_layer_cost(&layers[k], l), now_cost = dc_source_layer_cost(&layers[k], chosen[k]);
            if (next) {
              target = estimate + next - MIN(next, now_cost);
              need = audio + next;
            }
          }
        }
        /* a layer the receiver's profile can never carry with room to spare is not worth a
         * probe (a highland point probing for a 500 kbit/s layer on its 128 kbit/s link only
         * cost it audio; see dc_probe_worth) */
        if (!dc_probe_worth(need, link_profiles[rcv->tier].ceiling_bps))
          target = 0;
        target = MIN(target, 2 * estimate);
        if (target > estimate + estimate / 10 &&
            s->rtx_pt >= 0 && !dc_upgrade_guard_blocked(&s->guard, now))
          probe_kbps = (unsigned)(target / 1000);
        g_atomic_int_set(&rcv->probe_target_kbps, (gint)probe_kbps);
      }
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
      /* Temporal-layer thinning (media/router): thumbnails keep the base layer (a small tile at a
       * quarter of the frame rate); a main slot kept at a layer above the budget keeps half its
       * frames while about two thirds of the layer fit, else the base layer. */
      uint64_t budget = estimate > audio ? estimate - audio : 0;
      uint64_t rate = !off ? dc_source_layer_cost(&layers[k], chosen[k]) : 0;
      int keep = k > 0 ? 0 : rate <= budget ? -1 : rate * 2 / 3 <= budget ? 1 : 0;
      g_atomic_int_set(&s->keep_tid, keep);
    }
  }
  return changed;
}

gboolean room_choose_layers_all(gpointer data) {
  dc_bridge *b = data;
  GHashTableIter it;
  gpointer room;
  g_hash_table_iter_init(&it, b->rooms);
  while (g_hash_table_iter_next(&it, NULL, &room)) {
    dc_room *r = room;
    g_rw_lock_writer_lock(&r->lock);
    bool changed = choose_layers(r);
    room_seat_audiences(r);
    g_rw_lock_writer_unlock(&r->lock);
    if (changed)
      tell_slots(r);
  }
  return G_SOURCE_CONTINUE;
}

static gpointer ref_copy(gconstpointer p, gpointer unused) {
  (void)unused;
  return room_ref((dc_participant *)p);
}

/* Recomputes every slot and tells each participant who fills its slots now. */
void room_reroute_and_tell(dc_room *r) {
  g_rw_lock_writer_lock(&r->lock);
  /* A slot that changed source gets its layer from the estimate at once: left to the next
   * round, it asked the new source for a key frame on its highest layer first, and a thin
   * link spent seconds on that key frame before the choice moved it down (another key frame). */
  if (reroute(r))
    choose_layers(r);
  room_seat_audiences(r);
  g_rw_lock_writer_unlock(&r->lock);
  tell_slots(r);
}

void room_seat_audiences(dc_room *r) {
  int64_t now = g_get_monotonic_time();
  GHashTable *by_id = g_hash_table_new(g_int64_hash, g_int64_equal);
  for (guint i = 0; i < r->members->len; i++) {
    dc_participant *p = g_ptr_array_index(r->members, i);
    g_array_set_size(p->audience, 0);
    g_hash_table_insert(by_id, &p->id, p);
  }
  for (guint i = 0; i < r->members->len; i++) { /* each audience in the members' order, as before */
    dc_participant *rcv = g_ptr_array_index(r->members, i);
    for (int k = 0; k < rcv->n_video; k++) {
      slot *s = &rcv->video[k];
      int64_t ids[3] = {s->source, (gintptr)g_atomic_pointer_get(&s->playing_source),
                        now - s->left_at_us < AUDIENCE_GRACE_US ? s->left_source : 0};
      for (int j = 0; j < 3; j++) {
        if (ids[j] <= 0 || ids[j] == rcv->id || (j > 0 && ids[j] == ids[0]) || (j > 1 && ids[j] == ids[1]))
          continue;
        dc_participant *src = g_hash_table_lookup(by_id, &ids[j]);
        if (src)
          g_array_append_val(src->audience, ((dc_seat){.rcv = rcv, .slot = k}));
      }
    }
  }
  g_hash_table_unref(by_id);
}

/* Main thread: tells each participant who fills its slots; a slot turned off for want of
 * bandwidth reads as empty. */
static void tell_slots(dc_room *r) {
  /* a referenced copy: the callbacks run unlocked. The copy keeps r->members' free
   * function (room_unref), which gives the references back. */
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

