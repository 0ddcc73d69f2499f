/* roster.h — a meeting's roster as its members last heard it, and what changed since (issue 15).
 *
 * Every join, leave, mute or host's command changes the roster, and every member must hear
 * of it. Sent whole each time, a join into a meeting of N costs N messages of N entries: at
 * 300 points, 300 × 60 KB. A member that asked for changes (join's "roster_changes") gets
 * the whole roster once, then only the entries that changed and the ids that left: a join
 * costs N messages of one entry. This module keeps the last roster sent (its own copy, in
 * order of participant id) and turns the next one into that difference; the server sends.
 * dc_protocol_apply_roster_changes is the client's half. The order of entries is the
 * participant id's (join order): a point shown as reconnecting keeps its place, and client
 * and bridge agree on it without sending it.
 */
#ifndef DC_ROSTER_H
#define DC_ROSTER_H

#include "signaling/protocol.h"

typedef struct dc_roster dc_roster;

dc_roster *dc_roster_new(void);
void dc_roster_free(dc_roster *r);

/* Makes entries (any order; copied) and meeting the roster, and returns the roster_changes
 * message from the one before to this (g_free it), or NULL when nothing changed. */
char *dc_roster_update(dc_roster *r, const dc_roster_entry *entries, size_t n, const dc_roster_meeting *meeting);

/* The roster as last updated, whole: the roster message (g_free it). */
char *dc_roster_whole(const dc_roster *r);

/* Participants in the roster as last updated. */
size_t dc_roster_size(const dc_roster *r);

#endif
