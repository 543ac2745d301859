/* After the last pass: the result smoothed with the content as guide, and
 * its photorealism figures (stylize/post/smooth.h), through the run's plan. */
#include "run/run_internal.h"

stylize_status run_post_process(run_ctx *x, stylize_error *err)
{
    const stylize_run_config *c = x->c;
    int smooth = c->smooth.kind != STYLIZE_SMOOTH_NONE;
    int figures = c->report_path || c->photorealism > 0 || smooth;
    int w = x->result.width, h = x->result.height, borrowed = 0;
    if (!c->content || !figures || (w < 3 || h < 3)) /* the Laplacian's windows need 3x3 */
        return STYLIZE_OK;
    stylize_image guide = {0};
    stylize_status st = run_resized(x, &guide, c->content, w, h, &borrowed, err);
    if (st != STYLIZE_OK)
        return st;
    if (smooth && (st = stylize_smooth(&c->smooth, guide.data, x->result.data, x->result.data, w, h, x->mem,
                                       err)) == STYLIZE_OK && !x->dry) {
        size_t n = (size_t)3 * w * h; /* the figures are of the image as written */
        for (size_t i = 0; i < n; i++)
            x->result.data[i] = x->result.data[i] < 0 ? 0 : x->result.data[i] > 1 ? 1 : x->result.data[i];
    }
    if (st == STYLIZE_OK)
        st = stylize_photo_figures(guide.data, x->result.data, w, h, x->mem, &x->r.matting_per_pixel,
                                   &x->r.edge_ssim, err);
    if (st == STYLIZE_OK && !x->dry) {
        x->r.have_figures = 1;
        stylize_log(&c->log, STYLIZE_LOG_INFO, "photorealism: L_m %.4g per pixel, edge SSIM %.4f%s%s",
                    x->r.matting_per_pixel, x->r.edge_ssim, smooth ? " after smoothing " : "",
                    smooth ? stylize_smooth_name(c->smooth.kind) : "");
    }
    run_release(x, &guide, borrowed);
    return st;
}
