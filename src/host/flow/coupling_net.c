/* coupling_net.c: the coupling network interface (coupling_net.h): each call goes to the dense
 * stack (nn/mlp.c) or the conv net (nn/convnet.c). */
#include "flow/coupling_net.h"

#include <stdio.h>

#include "fce/log.h"

fce_status fce_coupling_net_declare(fce_coupling_net *net, const fce_coupling_net_config *cfg,
                                    fce_param_table *t, const char *step_prefix, int c_in,
                                    int c_out) {
    char prefix[FCE_PARAM_NAME_MAX];
    int n = snprintf(prefix, sizeof prefix, "%s.%s", step_prefix, cfg->name);
    FCE_ASSERT(n > 0 && n < (int)sizeof prefix, "coupling net: parameter name too long");
    net->kind = cfg->kind;
    if (cfg->kind == FCE_COUPLING_NET_CONV)
        return fce_convnet_declare(&net->u.conv, t, prefix, c_in, cfg->width, c_out);
    const int dims[4] = {c_in, cfg->width, cfg->width, c_out};
    return fce_mlp_declare(&net->u.dense, t, prefix, 3, dims, 0.0f, 1, cfg->actnorm);
}

void fce_coupling_net_bind(fce_coupling_net *net, const fce_param_table *t,
                           const fce_param_arena *a) {
    if (net->kind == FCE_COUPLING_NET_CONV) fce_convnet_bind(&net->u.conv, t, a);
    else fce_mlp_bind(&net->u.dense, t, a);
}

void fce_coupling_net_init_host(const fce_coupling_net *net, const fce_param_table *t, float *host,
                                uint64_t seed) {
    if (net->kind == FCE_COUPLING_NET_CONV) fce_convnet_init_host(&net->u.conv, t, host, seed);
    else fce_mlp_init_host(&net->u.dense, t, host, seed);
}

fce_status fce_coupling_net_tape_init(fce_coupling_net_tape *tp, const fce_coupling_net *net,
                                      fce_ctx *ctx, int N, int h, int w, float *g0, float *g1,
                                      float *work) {
    tp->hw = h * w;
    if (net->kind == FCE_COUPLING_NET_DENSE)
        return fce_mlp_tape_init(&tp->u.dense, &net->u.dense, ctx, N * h * w);
    if (g0 && g1 && work)
        return fce_convnet_tape_init_shared(&tp->u.conv, &net->u.conv, ctx, N, h, w, g0, g1, work);
    return fce_convnet_tape_init(&tp->u.conv, &net->u.conv, ctx, N, h, w);
}

void fce_coupling_net_tape_free(fce_coupling_net_tape *tp, const fce_coupling_net *net,
                                fce_ctx *ctx) {
    if (net->kind == FCE_COUPLING_NET_CONV) fce_convnet_tape_free(&tp->u.conv, ctx);
    else fce_mlp_tape_free(&tp->u.dense, ctx);
}

fce_status fce_coupling_net_forward(const fce_coupling_net *net, fce_coupling_net_tape *tp,
                                    fce_ctx *ctx, const float *xa, int N, int init) {
    if (net->kind == FCE_COUPLING_NET_CONV)
        return fce_convnet_forward(&net->u.conv, &tp->u.conv, ctx, xa, N, init);
    return fce_mlp_forward(&net->u.dense, &tp->u.dense, ctx, xa, N * tp->hw, init);
}

fce_status fce_coupling_net_backward(const fce_coupling_net *net, fce_coupling_net_tape *tp,
                                     fce_ctx *ctx, const float *dout, float *dxa, int N) {
    if (net->kind == FCE_COUPLING_NET_CONV)
        return fce_convnet_backward(&net->u.conv, &tp->u.conv, ctx, dout, dxa, N, 1);
    return fce_mlp_backward(&net->u.dense, &tp->u.dense, ctx, dout, dxa, 0, N * tp->hw, 1);
}

const float *fce_coupling_net_output(const fce_coupling_net *net, const fce_coupling_net_tape *tp) {
    if (net->kind == FCE_COUPLING_NET_CONV) return fce_convnet_output(&tp->u.conv);
    return fce_mlp_output(&net->u.dense, &tp->u.dense);
}

// ---- the fused path (conv network only): the last actnorm is the caller's ----

int fce_coupling_net_has_head(const fce_coupling_net *net) { return net->kind == FCE_COUPLING_NET_CONV; }

fce_status fce_coupling_net_forward_raw(const fce_coupling_net *net, fce_coupling_net_tape *tp,
                                        fce_ctx *ctx, const float *xa, int N, int init) {
    FCE_ASSERT(net->kind == FCE_COUPLING_NET_CONV, "coupling net: no separable head (dense network)");
    return fce_convnet_forward_raw(&net->u.conv, &tp->u.conv, ctx, xa, N, init);
}

fce_coupling_net_head fce_coupling_net_head_of(const fce_coupling_net *net,
                                               fce_coupling_net_tape *tp) {
    const fce_convnet *c = &net->u.conv;
    const fce_coupling_net_head h = {tp->u.conv.g0, tp->u.conv.out, c->b3, c->s3, c->db3, c->ds3,
                                     tp->u.conv.work};
    return h;
}

fce_status fce_coupling_net_backward_from_raw(const fce_coupling_net *net, fce_coupling_net_tape *tp,
                                              fce_ctx *ctx, float *dxa, int N) {
    FCE_ASSERT(net->kind == FCE_COUPLING_NET_CONV, "coupling net: no separable head (dense network)");
    return fce_convnet_backward_from_raw(&net->u.conv, &tp->u.conv, ctx, dxa, N, 1);
}
