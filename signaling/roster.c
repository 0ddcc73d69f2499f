/* roster.c — the last roster sent and the changes since; see roster.h. */
#include "signaling/roster.h"

#include <string.h>

struct dc_roster {
  GArray *entries; /* dc_roster_entry, by participant id; the strings are ours */
  bool locked, recording;
  char *recording_error;
  GArray *removed; /* dc_roster_removed; the points' names are ours */
};

static void entry_clear(gpointer p) {
  dc_roster_entry *e = p;
  g_free((char *)e->name);
  g_free((char *)e->point);
  g_free((char *)e->role);
}

static void removed_clear(gpointer p) {
  g_free((char *)((dc_roster_removed *)p)->point);
}

dc_roster *dc_roster_new(void) {
  dc_roster *r = g_new0(dc_roster, 1);
  r->entries = g_array_new(FALSE, TRUE, sizeof(dc_roster_entry));
  g_array_set_clear_func(r->entries, entry_clear);
  r->removed = g_array_new(FALSE, TRUE, sizeof(dc_roster_removed));
  g_array_set_clear_func(r->removed, removed_clear);
  return r;
}

void dc_roster_free(dc_roster *r) {
  if (!r)
    return;
  g_array_unref(r->entries);
  g_array_unref(r->removed);
  g_free(r->recording_error);
  g_free(r);
}

static int by_participant(gconstpointer a, gconstpointer b) {
  int64_t x = ((const dc_roster_entry *)a)->participant, y = ((const dc_roster_entry *)b)->participant;
  return (x > y) - (x < y);
}

static bool entry_equal(const dc_roster_entry *a, const dc_roster_entry *b) {
  return a->participant == b->participant && !g_strcmp0(a->name, b->name) && !g_strcmp0(a->point, b->point) &&
         !g_strcmp0(a->role, b->role) && a->muted == b->muted && a->connected == b->connected &&
         a->host_muted == b->host_muted && a->hand == b->hand && a->floor == b->floor &&
         a->reconnecting == b->reconnecting;
}

static bool meeting_equal(const dc_roster *r, const dc_roster_meeting *m) {
  if (r->locked != m->locked || r->recording != m->recording || g_strcmp0(r->recording_error, m->recording_error) ||
      r->removed->len != m->n_removed)
    return false;
  for (size_t i = 0; i < m->n_removed; i++) {
    const dc_roster_removed *x = &g_array_index(r->removed, dc_roster_removed, i);
    if (x->invitation != m->removed[i].invitation || g_strcmp0(x->point, m->removed[i].point))
      return false;
  }
  return true;
}

static dc_roster_meeting meeting_of(const dc_roster *r) {
  return (dc_roster_meeting){.locked = r->locked, .recording = r->recording, .recording_error = r->recording_error,
                             .removed = (const dc_roster_removed *)r->removed->data, .n_removed = r->removed->len};
}

char *dc_roster_update(dc_roster *r, const dc_roster_entry *entries, size_t n, const dc_roster_meeting *meeting) {
  static const dc_roster_meeting none = {0};
  if (!meeting)
    meeting = &none;
  GArray *now = g_array_sized_new(FALSE, TRUE, sizeof(dc_roster_entry), (guint)n);
  g_array_set_clear_func(now, entry_clear);
  for (size_t i = 0; i < n; i++) {
    dc_roster_entry e = entries[i];
    e.name = g_strdup(e.name), e.point = g_strdup(e.point), e.role = g_strdup(e.role);
    g_array_append_val(now, e);
  }
  g_array_sort(now, by_participant);

  /* Both in order of id: one walk finds what is new or changed and who left. */
  GArray *changed = g_array_new(FALSE, FALSE, sizeof(dc_roster_entry)); /* borrows now's */
  GArray *left = g_array_new(FALSE, FALSE, sizeof(int64_t));
  guint i = 0, j = 0;
  while (i < r->entries->len || j < now->len) {
    const dc_roster_entry *was = i < r->entries->len ? &g_array_index(r->entries, dc_roster_entry, i) : NULL;
    const dc_roster_entry *is = j < now->len ? &g_array_index(now, dc_roster_entry, j) : NULL;
    if (was && (!is || was->participant < is->participant)) {
      g_array_append_val(left, was->participant);
      i++;
    } else if (is && (!was || is->participant < was->participant)) {
      g_array_append_val(changed, *is);
      j++;
    } else {
      if (!entry_equal(was, is))
        g_array_append_val(changed, *is);
      i++, j++;
    }
  }

  char *text = NULL;
  if (changed->len || left->len || !meeting_equal(r, meeting))
    text = dc_protocol_roster_changes((const dc_roster_entry *)changed->data, changed->len,
                                      (const int64_t *)left->data, left->len, meeting);
  g_array_unref(changed);
  g_array_unref(left);

  g_array_unref(r->entries);
  r->entries = now;
  r->locked = meeting->locked, r->recording = meeting->recording;
  g_free(r->recording_error);
  r->recording_error = g_strdup(meeting->recording_error);
  g_array_set_size(r->removed, 0);
  for (size_t k = 0; k < meeting->n_removed; k++) {
    dc_roster_removed x = {meeting->removed[k].invitation, g_strdup(meeting->removed[k].point)};
    g_array_append_val(r->removed, x);
  }
  return text;
}

char *dc_roster_whole(const dc_roster *r) {
  dc_roster_meeting m = meeting_of(r);
  return dc_protocol_roster((const dc_roster_entry *)r->entries->data, r->entries->len, &m);
}

size_t dc_roster_size(const dc_roster *r) {
  return r->entries->len;
}
