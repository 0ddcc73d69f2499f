/* ctl_private.h — what diemcau-ctl's files share: ctl.c (settings, talking to the bridge,
 * the commands) and ctl_show.c (the bridge's JSON as tables and lines for people). */
#ifndef DC_CTL_PRIVATE_H
#define DC_CTL_PRIVATE_H

#include <json-glib/json-glib.h>

/* The bridge's time zone (it tells us), in which times are shown; main sets it. */
extern GTimeZone *ctl_zone;

const char *ctl_str(JsonObject *o, const char *name); /* a member as a string; "" when absent or not one */
void ctl_print_json(JsonNode *n);

/* Each shows one API answer for people (--json prints ctl_print_json's instead). */
void ctl_points_table(JsonNode *root);
void ctl_point_one(JsonNode *root);
void ctl_groups_table(JsonNode *root);
void ctl_group_one(JsonNode *root);
void ctl_meetings_table(JsonNode *root);
void ctl_meeting_one(JsonNode *root);
void ctl_invitations_table(JsonNode *root);
void ctl_live_table(JsonNode *root);
void ctl_attendance_table(JsonNode *root);
void ctl_keys_table(JsonNode *root);
void ctl_key_made(JsonNode *root);
void ctl_audit_table(JsonNode *root);
void ctl_done_line(JsonNode *root);
void ctl_device_key_line(JsonNode *root);

#endif
