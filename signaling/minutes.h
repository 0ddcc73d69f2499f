/* minutes.h — the minutes draft (biên bản, dự thảo) of a meeting, made from what the bridge
 * knows: the meeting, its invitations and attendance (stays), and its log (store.h
 * dc_meeting_event: who the mixer heard as the dominant speaker, and the chair's actions).
 *
 * Sections: title, date and times (on the operators' clock), the chair, the points present
 * (first joined, last left, time present) and absent, the timeline of who spoke (spans of at
 * least MINUTES_MIN_SPAN_MS, the same point's neighbouring spans merged) with each point's
 * total, and the chair's actions. In Vietnamese, as JSON and as printable HTML.
 *
 * Canonical: once the meeting has ended, the same meeting gives the same bytes. Nothing in the
 * draft depends on when it is made: the record ends when the meeting was ended (or, while it
 * runs, at its last logged event); lists have a fixed order; numbers are whole. (Signing the draft is a later step; this keeps it possible.)
 *
 * Left out: what was said (no transcription), decisions and votes (the clerk writes those).
 */
#ifndef DC_MINUTES_H
#define DC_MINUTES_H

#include <glib.h>

#include "signaling/store.h"

#define MINUTES_MIN_SPAN_MS 1000 /* a shorter turn is a cough, or the mixer changing its mind */

/* NULL with NOT_FOUND for no such meeting, FAILED when the store fails. g_free the texts. */
char *dc_minutes_json(dc_store *store, int64_t meeting_id, GTimeZone *tz, GError **error);
char *dc_minutes_html(dc_store *store, int64_t meeting_id, GTimeZone *tz, GError **error);

#endif
