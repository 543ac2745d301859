/* stylize: the training report (JSON) and loss plot (SVG) of `stylize
 * train`. The history is the caller's preallocated array of entries. */
#ifndef STYLIZE_TRAIN_REPORT_H
#define STYLIZE_TRAIN_REPORT_H

#include "stylize/gen/model_file.h"
#include "stylize/train/train.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    long long step;
    double loss, loss_avg, content, style, tv; /* content/style/tv: the batch's last image */
    double learning_rate, seconds;
} stylize_train_entry;

/* Writes path atomically: "version", "kind": "training", "status" (e.g.
 * "ok", "interrupted"), "architecture", "training" and "provenance" (the
 * same sections, in the same form, as the model file's header:
 * weights/README.md), "steps", "loss_first", "loss_final", "seconds",
 * "skipped_files", "memory_peak", "memory_estimate" (bytes), "history" (n
 * entries: step, loss, loss_avg, content_loss, style_loss, tv_loss,
 * learning_rate, seconds). */
stylize_status stylize_train_report_write(const char *path, const stylize_gen_arch *a,
                                          const stylize_tnet_meta *meta, const stylize_train_result *res,
                                          size_t memory_estimate, const char *status,
                                          const stylize_train_entry *h, int n, stylize_error *err);
/* Writes an SVG (atomically): loss and its running mean against the step,
 * log-scale y axis, with axes, ticks and a legend. */
stylize_status stylize_train_plot(const char *path, const stylize_train_entry *h, int n, stylize_error *err);

#ifdef __cplusplus
}
#endif
#endif
