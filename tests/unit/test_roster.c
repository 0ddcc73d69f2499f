/* roster: the bridge's roster changes, applied by a client, make the same roster as the
 * whole one (issue 15), and a join into a big meeting costs one entry, not the meeting. */
#include <string.h>

#include "signaling/protocol.h"
#include "signaling/roster.h"

static const char *const names[] = {"Xã Tà Xùa", "Xã Đăk Mang", "Hội trường huyện", "Xã Bok Tới", "Thị trấn"};
static const char *const roles[] = {"participant", "host", "observer"};

static dc_server_msg parse(const char *text, dc_server_msg_type type) {
  dc_server_msg m;
  char *why = NULL;
  if (!dc_protocol_parse_server(text, strlen(text), &m, &why))
    g_error("the bridge's own message does not parse (%s): %s", why, text);
  g_assert_cmpint(m.type, ==, type);
  return m;
}

static void assert_same(const dc_server_msg *got, const dc_server_msg *want, int step) {
  if (got->n_roster != want->n_roster)
    g_error("step %d: the client holds %zu entries, the whole roster %zu", step, got->n_roster, want->n_roster);
  g_assert_cmpint(got->recording, ==, want->recording);
  for (size_t i = 0; i < want->n_roster; i++) {
    const dc_roster_entry *a = &got->roster[i], *b = &want->roster[i];
    if (a->participant != b->participant || strcmp(a->name, b->name) || strcmp(a->point, b->point) ||
        strcmp(a->role, b->role) || a->muted != b->muted || a->connected != b->connected ||
        a->host_muted != b->host_muted || a->hand != b->hand || a->floor != b->floor ||
        a->reconnecting != b->reconnecting)
      g_error("step %d, entry %zu: the client holds participant %" G_GINT64_FORMAT " (%s, muted %d, hand %d), "
              "the whole roster %" G_GINT64_FORMAT " (%s, muted %d, hand %d)", step, i, a->participant, a->name,
              a->muted, a->hand, b->participant, b->name, b->muted, b->hand);
  }
}

/* A meeting's life at random: joins, leaves, mutes, hands, drops and returns, the host's
 * lock and recording. After every step, the client's roster (the first whole one, then the
 * changes applied) equals the whole roster; and changes come exactly when something did. */
static void test_changes_make_the_whole(void) {
  GRand *rand = g_rand_new_with_seed(15);
  enum { MAX = 60, STEPS = 3000 };
  dc_roster_entry live[MAX];
  int n = 0;
  int64_t next_id = 1;
  dc_roster_meeting meeting = {0};
  dc_roster_removed removed[2] = {{11, "Xã Bok Tới"}, {12, "Thị trấn"}};
  dc_roster *r = dc_roster_new();
  dc_server_msg client = {0};
  char *last_whole = NULL;
  int changes_sent = 0;
  for (int step = 0; step < STEPS; step++) {
    int what = g_rand_int_range(rand, 0, 10);
    if (n == 0 || (what < 3 && n < MAX)) {
      live[n++] = (dc_roster_entry){.participant = next_id++, .name = names[g_rand_int_range(rand, 0, 5)],
                                    .point = names[g_rand_int_range(rand, 0, 5)], .role = roles[g_rand_int_range(rand, 0, 3)]};
    } else if (what < 5) {
      int at = g_rand_int_range(rand, 0, n);
      live[at] = live[--n]; /* any order: the roster sorts */
    } else if (what < 9) {
      dc_roster_entry *e = &live[g_rand_int_range(rand, 0, n)];
      switch (g_rand_int_range(rand, 0, 6)) {
      case 0: e->muted = !e->muted; break;
      case 1: e->connected = !e->connected; break;
      case 2: e->host_muted = !e->host_muted; break;
      case 3: e->hand = g_rand_int_range(rand, 0, 4); break;
      case 4: e->floor = !e->floor; break;
      default: e->reconnecting = !e->reconnecting; break;
      }
    } else {
      switch (g_rand_int_range(rand, 0, 4)) {
      case 0: meeting.locked = !meeting.locked; break;
      case 1: meeting.recording = !meeting.recording; break;
      case 2: meeting.recording_error = meeting.recording_error ? NULL : "the disk is full"; break;
      default: meeting.removed = removed, meeting.n_removed = (meeting.n_removed + 1) % 3; break;
      }
    }
    char *changes = dc_roster_update(r, live, (size_t)n, &meeting);
    char *whole = dc_roster_whole(r);
    g_assert_cmpuint(dc_roster_size(r), ==, (size_t)n);
    if (last_whole)
      g_assert_cmpint(changes != NULL, ==, strcmp(whole, last_whole) != 0);
    if (step == 0) {
      client = parse(whole, DC_SMSG_ROSTER);
    } else if (changes) {
      dc_server_msg m = parse(changes, DC_SMSG_ROSTER_CHANGES);
      char *why = NULL;
      if (!dc_protocol_apply_roster_changes(&client, &m, &why))
        g_error("step %d: %s", step, why);
      changes_sent++;
    }
    dc_server_msg want = parse(whole, DC_SMSG_ROSTER);
    assert_same(&client, &want, step);
    dc_server_msg_clear(&want);
    g_free(changes);
    g_free(last_whole);
    last_whole = whole;
  }
  g_test_message("%d steps, %d with changes; %zu in the meeting at the end", STEPS, changes_sent, client.n_roster);
  g_free(last_whole);
  dc_server_msg_clear(&client);
  dc_roster_free(r);
  g_rand_free(rand);
}

/* The cost the change is for: at 300 points, a join tells each member one entry. */
static void test_join_costs_one_entry(void) {
  enum { N = 300 };
  dc_roster_entry e[N + 1];
  char *points[N + 1];
  for (int i = 0; i <= N; i++) {
    points[i] = g_strdup_printf("Xã số %d — Máy điểm cầu", i + 1);
    e[i] = (dc_roster_entry){.participant = i + 1, .name = "Điểm cầu", .point = points[i], .role = "participant",
                             .connected = true};
  }
  dc_roster *r = dc_roster_new();
  g_free(dc_roster_update(r, e, N, NULL));
  char *join = dc_roster_update(r, e, N + 1, NULL);
  char *whole = dc_roster_whole(r);
  e[7].muted = true;
  char *mute = dc_roster_update(r, e, N + 1, NULL);
  char *leave = dc_roster_update(r, e + 1, N, NULL); /* the first goes */
  char *nothing = dc_roster_update(r, e + 1, N, NULL);
  g_test_message("at %d: the whole roster %zu bytes; a join's changes %zu, a mute's %zu, a leave's %zu", N + 1,
                 strlen(whole), strlen(join), strlen(mute), strlen(leave));
  g_assert_cmpuint(strlen(whole), >, 50000);
  g_assert_cmpuint(strlen(join), <, 400);
  g_assert_cmpuint(strlen(mute), <, 400);
  g_assert_cmpuint(strlen(leave), <, 200);
  g_assert_null(nothing);
  g_assert_nonnull(strstr(join, "\"participant\":301"));
  g_assert_nonnull(strstr(leave, "\"left\":[1]"));
  g_free(join), g_free(whole), g_free(mute), g_free(leave);
  dc_roster_free(r);
  for (int i = 0; i <= N; i++)
    g_free(points[i]);
}

/* Changes before any roster, or past the limit, are refused and change nothing. */
static void test_apply_refuses(void) {
  dc_roster_entry one = {.participant = 5, .name = "a", .point = "b", .role = "participant"};
  char *text = dc_protocol_roster_changes(&one, 1, NULL, 0, NULL);
  dc_server_msg none = {0}, m = parse(text, DC_SMSG_ROSTER_CHANGES);
  char *why = NULL;
  g_assert_false(dc_protocol_apply_roster_changes(&none, &m, &why));
  g_assert_nonnull(strstr(why, "before any roster"));
  g_free(why), why = NULL;
  g_assert_cmpuint(none.n_roster, ==, 0);

  dc_roster_entry *full = g_new0(dc_roster_entry, DC_PROTOCOL_MAX_ROSTER);
  for (int i = 0; i < DC_PROTOCOL_MAX_ROSTER; i++)
    full[i] = (dc_roster_entry){.participant = 100 + i, .name = "n", .point = "p", .role = "participant"};
  char *whole = dc_protocol_roster(full, DC_PROTOCOL_MAX_ROSTER, NULL);
  dc_server_msg client = parse(whole, DC_SMSG_ROSTER);
  g_assert_false(dc_protocol_apply_roster_changes(&client, &m, &why));
  g_assert_nonnull(strstr(why, "more than"));
  g_free(why);
  g_assert_cmpuint(client.n_roster, ==, DC_PROTOCOL_MAX_ROSTER);
  dc_server_msg_clear(&m);
  dc_server_msg_clear(&client);
  g_free(whole), g_free(full), g_free(text);
}

/* roster_changes from the wire: a bad "left" is an error, and an older roster (no chair's
 * members) still reads with their defaults. */
static void test_parse(void) {
  static const char *const bad[] = {
      "{\"v\":1,\"type\":\"roster_changes\",\"participants\":[]}",
      "{\"v\":1,\"type\":\"roster_changes\",\"participants\":[],\"left\":[0]}",
      "{\"v\":1,\"type\":\"roster_changes\",\"participants\":[],\"left\":[\"7\"]}",
      "{\"v\":1,\"type\":\"roster_changes\",\"participants\":[],\"left\":7}",
      "{\"v\":1,\"type\":\"roster_changes\",\"participants\":[{\"participant\":1,\"name\":\"a\",\"point\":\"b\","
      "\"role\":\"host\",\"muted\":false,\"hand\":-1}],\"left\":[]}",
  };
  for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
    dc_server_msg m;
    char *why = NULL;
    g_assert_false(dc_protocol_parse_server(bad[i], strlen(bad[i]), &m, &why));
    g_assert_nonnull(why);
    g_free(why);
  }
  const char *old = "{\"v\":1,\"type\":\"roster\",\"participants\":[{\"participant\":3,\"name\":\"a\",\"point\":\"b\","
                    "\"role\":\"host\",\"muted\":true}]}";
  dc_server_msg m = parse(old, DC_SMSG_ROSTER);
  g_assert_true(m.roster[0].connected);
  g_assert_false(m.roster[0].reconnecting);
  g_assert_cmpint(m.roster[0].hand, ==, 0);
  dc_server_msg_clear(&m);
  char *join = dc_protocol_join(3, "tok", "Xã Tà Xùa", "highland", 1, 0);
  dc_client_msg cm = {0};
  const char *code;
  char *message = NULL;
  g_assert_true(dc_protocol_parse(join, strlen(join), &cm, &code, &message));
  g_assert_true(cm.roster_changes);
  dc_client_msg_clear(&cm);
  g_free(join);
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/roster/changes-make-the-whole", test_changes_make_the_whole);
  g_test_add_func("/roster/join-costs-one-entry", test_join_costs_one_entry);
  g_test_add_func("/roster/apply-refuses", test_apply_refuses);
  g_test_add_func("/roster/parse", test_parse);
  return g_test_run();
}
