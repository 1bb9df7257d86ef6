#!/usr/bin/env python3
"""check_layers.py REPO: the architecture rules of src/host, checked from the #include lines.

1. Layers (low to high). A file may include headers of its own layer and of lower layers only:
     util < ops (the op table, fce/backend.h), ref < backend, cpu, cuda, dist < nn < flow, ebm < data < formats < train, eval, probe < cli
   (dist, the multi-process job, sits with the backends: it binds contexts and its actnorm op
   serves nn and flow; nn and everything above may call it)
   Public headers (include/fce/*.h) belong to the layer of the folder that implements them
   (PUBLIC below).
2. No include cycle between modules. A module is a folder/stem pair (x.c with x.h, or the
   public header with the file that implements it): a.c including b.h while b.c includes a.h
   is a cycle even though no header includes itself. A folder's x_internal.h belongs to module x.
Exit 0 when both hold; otherwise every violation is printed and the exit status is 1."""
import os
import re
import sys

LAYERS = {'util': 0, 'ops': 1, 'ref': 1, 'backend': 2, 'cpu': 2, 'cuda': 2, 'dist': 2, 'nn': 3, 'flow': 4, 'ebm': 4,
          'data': 5, 'formats': 6, 'train': 7, 'eval': 7, 'probe': 7, 'cli': 8}
# include/fce/<header> -> module (folder/stem) that implements it
PUBLIC = {
    'status.h': 'util/status', 'log.h': 'util/log', 'philox.h': 'util/philox',
    'backend.h': 'ops/backend', 'ops.def': 'ops/backend', 'optim_sched.h': 'ops/optim_sched',
    'params.h': 'nn/params',
    'glow.h': 'flow/glow2d', 'iglow.h': 'flow/iglow', 'ebm.h': 'ebm/ebm2d',
    'ebm_image.h': 'ebm/ebm_image', 'data2d.h': 'data/data2d', 'dataset.h': 'data/dataset',
    'image_io.h': 'data/image_io', 'checkpoint.h': 'formats/checkpoint2d',
    'train.h': 'train/train_2d', 'train_config.h': 'train/train_2d_config',
    'train_image.h': 'train/train_image', 'train_image_config.h': 'train/train_image_config',
    'eval_image.h': 'eval/eval_image', 'export.h': 'eval/export', 'density_png.h': 'eval/density_png',
    'probe.h': 'probe/probe', 'quality.h': 'eval/quality',
}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def module_of(path):
    """folder/stem, with x_internal folded into x (the private half of module x)."""
    stem = os.path.splitext(path)[0]
    return stem[:-len('_internal')] if stem.endswith('_internal') else stem


def module_of_header(inc):
    if inc.startswith('fce/'):
        return PUBLIC.get(inc[4:], 'unknown/' + inc)
    return module_of(inc)


def main(repo):
    host = os.path.join(repo, 'src', 'host')
    errors = []
    edges = {}
    for folder in sorted(os.listdir(host)):
        if not os.path.isdir(os.path.join(host, folder)):
            errors.append(f'src/host/{folder}: a file outside the layer folders')
            continue
        if folder not in LAYERS:
            errors.append(f'src/host/{folder}/: a folder that is not a layer (add it to LAYERS)')
            continue
        for name in sorted(os.listdir(os.path.join(host, folder))):
            if not name.endswith(('.c', '.h')):
                continue
            me = module_of(f'{folder}/{name}')
            text = open(os.path.join(host, folder, name), encoding='utf-8').read()
            for inc in INCLUDE.findall(text):
                mod = module_of_header(inc)
                if mod.startswith('unknown/'):
                    if inc.startswith('fce/'):
                        errors.append(f'src/host/{folder}/{name}: includes {inc}, which has no layer '
                                      '(add it to PUBLIC)')
                    continue  # a kernel or library header outside src/host
                layer = mod.split('/')[0]
                if layer not in LAYERS:
                    continue
                if LAYERS[layer] > LAYERS[folder]:
                    errors.append(f'src/host/{folder}/{name}: includes {inc} ({layer}, a higher '
                                  f'layer than {folder})')
                if mod != me:
                    edges.setdefault(me, set()).add(mod)
    # cycles between modules (depth-first search, each cycle reported once)
    seen_cycles = set()
    state = {}

    def visit(node, stack):
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                cyc = stack[stack.index(nxt):]
                key = frozenset(cyc)
                if key not in seen_cycles:
                    seen_cycles.add(key)
                    errors.append('include cycle: ' + ' -> '.join(cyc + [nxt]))
            elif nxt not in state:
                visit(nxt, stack)
        stack.pop()
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node, [])
    for e in errors:
        print(e)
    print(f'{len(errors)} violation(s) of the layer and cycle rules')
    return 1 if errors else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else '.'))
