/*
 * report.h - retained JSON artifacts of the autonomy stages.
 *
 * Each stage (observe, insights, decide, propose, cycle) writes what it
 * produced as <state_dir>/reports/<stage>/<YYYYmmddTHHMMSS.mmmZ>.json
 * (the original's tools/report/operations_center/<stage>/), so `ls -t`
 * and the guide's own commands find the newest.  Retention keeps the
 * newest opcenter.reports_keep of each stage.
 */
#ifndef OPC_REPORT_H
#define OPC_REPORT_H

#include <stdint.h>

#include <jansson.h>

/* report_write writes doc (borrowed) as the newest report of stage under
 * state_dir (atomically; a second report of the same millisecond gets a
 * -N suffix), then removes the oldest reports of the stage beyond keep
 * (keep <= 0: none removed).  *pathp (may be NULL) gets the new file's
 * path, which the caller frees.  Returns 0 or ERR_IO (errno set). */
int report_write(char **pathp, const char *state_dir, const char *stage,
    const json_t *doc, int64_t keep);

#endif
