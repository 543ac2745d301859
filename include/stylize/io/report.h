/* stylize: the run report (JSON, written with cJSON) and the loss plot (SVG).
 * The report's history is preallocated: adding entries allocates nothing. */
#ifndef STYLIZE_REPORT_H
#define STYLIZE_REPORT_H

#include "stylize/style/objective.h"
#include "stylize/run/run.h"
#include "stylize/core/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct stylize_report stylize_report; /* opaque */

/* Room for max_entries history entries over n_scales scales, the entries
 * through mem (NULL: malloc; on a dry plan only counted, and nothing may be
 * added). *out is owned by the caller: free with stylize_report_free. */
stylize_status stylize_report_create(stylize_report **out, int max_entries, int n_scales,
                                     stylize_mem *mem, stylize_error *err);
void stylize_report_free(stylize_report *r); /* NULL is allowed */

void stylize_report_begin_scale(stylize_report *r, int scale, int width, int height,
                                int max_iterations);
/* Adds one history entry (ignored when full). b may be NULL. */
void stylize_report_add(stylize_report *r, int scale, int iteration, int evaluations, double seconds,
                        double loss, const stylize_loss_breakdown *b);
void stylize_report_end_scale(stylize_report *r, int scale, int iterations, int evaluations,
                              double loss_initial, double loss_final, const char *stop_reason);

/* Writes the JSON report atomically. Top level: "version", "settings"
 * (from cfg: the run's parameters plus cfg's setting_keys/values),
 * "status" ("ok", "interrupted", ...), "iterations", "evaluations",
 * "seconds", "loss_initial", "loss_final", "width", "height",
 * "memory_estimate" and "memory_peak" (bytes: the dry run's peak and the
 * run's own plan's; they are equal), "scales" (one
 * object per scale: index, width, height, iterations, evaluations,
 * loss_initial, loss_final, stop_reason, history), and "history" (every
 * entry of every scale: scale, iteration, evaluations, seconds, loss,
 * content_loss, style_loss, tv_loss, "content": {layer: raw L_content},
 * "style": {layer: raw E_l}). */
stylize_status stylize_report_write(const stylize_report *r, const stylize_run_config *cfg,
                                    const stylize_run_result *res, stylize_status run_status,
                                    const char *path, stylize_error *err);

/* Writes an SVG (atomically): total loss and each loss layer's weighted
 * loss against iteration (cumulative over scales), log-scale y axis, one
 * <path> per curve, with axes, ticks and a legend. */
stylize_status stylize_report_plot(const stylize_report *r, const stylize_run_config *cfg,
                                   const char *path, stylize_error *err);

#ifdef __cplusplus
}
#endif
#endif
