/* error.h — the GError domain for media/ setup calls (identities, sessions, SDP).
 *
 * Per-packet calls return dc_status (bytes.h) and never allocate; calls that happen once per
 * participant or per offer return a GError whose message is fit to show a user or log. */
#ifndef DC_ERROR_H
#define DC_ERROR_H

#include <glib.h>

#define DC_MEDIA_ERROR (dc_media_error_quark())
GQuark dc_media_error_quark(void);

typedef enum {
  DC_MEDIA_ERROR_FAILED,      /* a library below us failed */
  DC_MEDIA_ERROR_INVALID,     /* the input is malformed */
  DC_MEDIA_ERROR_UNSUPPORTED, /* well-formed, but asks for something we do not do */
  DC_MEDIA_ERROR_FULL,        /* well-formed, but there is no room left for it */
} dc_media_error_code;

#endif
