/* Who a camera's packets visit (bridge/slots.c, room_seat_audiences): the slots routed to the
 * source, those still playing it, and those that left it within AUDIENCE_GRACE_US; nobody's
 * own slots, and no one else's. Built by hand: a room of participants with two video slots. */
#include <glib.h>

#include "bridge/room_private.h"

#define N 4

typedef struct {
  dc_room room;
  dc_participant p[N];
} fixture;

static void setup(fixture *f) {
  memset(f, 0, sizeof *f);
  f->room.members = g_ptr_array_new(); /* the participants are the fixture's: no references */
  for (int i = 0; i < N; i++) {
    dc_participant *p = &f->p[i];
    p->id = i + 1;
    p->room = &f->room;
    p->n_video = 2;
    p->audience = g_array_new(FALSE, FALSE, sizeof(dc_seat));
    for (int k = 0; k < 2; k++)
      p->video[k].playing_source = (gpointer)(gintptr)DC_SLOT_NONE;
    g_ptr_array_add(f->room.members, p);
  }
}

static void teardown(fixture *f) {
  for (int i = 0; i < N; i++)
    g_array_unref(f->p[i].audience);
  g_ptr_array_unref(f->room.members);
}

static bool seated(const dc_participant *src, const dc_participant *rcv, int k) {
  for (guint i = 0; i < src->audience->len; i++) {
    const dc_seat *s = &g_array_index(src->audience, dc_seat, i);
    if (s->rcv == rcv && s->slot == k)
      return true;
  }
  return false;
}

static void test_routed_slots_only(void) {
  fixture f;
  setup(&f);
  /* 2 and 3 show 1 in their main slot; 3's thumbnail shows 4; 1 shows 2 */
  f.p[1].video[0].source = 1;
  f.p[2].video[0].source = 1;
  f.p[2].video[1].source = 4;
  f.p[0].video[0].source = 2;
  room_seat_audiences(&f.room);
  g_assert_cmpuint(f.p[0].audience->len, ==, 2);
  g_assert_true(seated(&f.p[0], &f.p[1], 0) && seated(&f.p[0], &f.p[2], 0));
  g_assert_cmpuint(f.p[3].audience->len, ==, 1);
  g_assert_true(seated(&f.p[3], &f.p[2], 1));
  g_assert_cmpuint(f.p[1].audience->len, ==, 1);
  g_assert_cmpuint(f.p[2].audience->len, ==, 0);
  /* made anew: a slot routed elsewhere leaves the audience (once its grace is over) */
  f.p[1].video[0].source = 3;
  room_seat_audiences(&f.room);
  g_assert_false(seated(&f.p[0], &f.p[1], 0));
  g_assert_true(seated(&f.p[2], &f.p[1], 0));
  teardown(&f);
}

/* A slot moved to another source keeps the one it plays until it switches, and the one it
 * left for AUDIENCE_GRACE_US: a delivery already posted may switch it back there. Each seat
 * once, and never in its own receiver's audience. */
static void test_playing_and_left_sources_kept(void) {
  fixture f;
  setup(&f);
  int64_t now = g_get_monotonic_time();
  slot *s = &f.p[1].video[0];
  s->source = 3;
  s->playing_source = (gpointer)(gintptr)1; /* still plays 1: no key frame of 3 yet */
  s->left_source = 4;
  s->left_at_us = now; /* left 4 just now */
  slot *t = &f.p[1].video[1];
  t->source = 1;
  t->playing_source = (gpointer)(gintptr)1; /* the same source twice: one seat */
  t->left_source = 2;                       /* its own receiver: never */
  t->left_at_us = now;
  room_seat_audiences(&f.room);
  g_assert_true(seated(&f.p[2], &f.p[1], 0));
  g_assert_true(seated(&f.p[0], &f.p[1], 0));
  g_assert_true(seated(&f.p[3], &f.p[1], 0));
  g_assert_true(seated(&f.p[0], &f.p[1], 1));
  g_assert_cmpuint(f.p[0].audience->len, ==, 2);
  g_assert_cmpuint(f.p[1].audience->len, ==, 0);
  /* the grace over: the slot it left is no longer visited */
  s->left_at_us = now - AUDIENCE_GRACE_US - 1;
  room_seat_audiences(&f.room);
  g_assert_false(seated(&f.p[3], &f.p[1], 0));
  teardown(&f);
}

/* A member gone: nobody's audience holds its slots, and it is nobody's source. */
static void test_a_member_gone_leaves_no_seat(void) {
  fixture f;
  setup(&f);
  f.p[1].video[0].source = 1;
  f.p[0].video[0].source = 2;
  room_seat_audiences(&f.room);
  g_assert_true(seated(&f.p[0], &f.p[1], 0));
  g_ptr_array_remove(f.room.members, &f.p[1]);
  room_seat_audiences(&f.room);
  g_assert_cmpuint(f.p[0].audience->len, ==, 0);
  teardown(&f);
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/audience/routed-slots-only", test_routed_slots_only);
  g_test_add_func("/audience/playing-and-left-sources-kept", test_playing_and_left_sources_kept);
  g_test_add_func("/audience/a-member-gone-leaves-no-seat", test_a_member_gone_leaves_no_seat);
  return g_test_run();
}
