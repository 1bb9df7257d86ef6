#!/usr/bin/env python3
"""cu2cpp.py: turn a CUDA source of src/kernels into C++ for the CPU emulation (tests/emu).

    cu2cpp.py INPUT OUTPUT [--grid-max]

Rewrites every kernel launch

    name<<<grid, block[, shmem[, stream]]>>>(args...)

into

    ::emu::launch("name", name, dim3(grid), dim3(block), (size_t)(shmem), (stream), args...)

skipping comments, string and character literals. Newlines inside the launch configuration are
kept, so the output has the same line numbers as the input. With --grid-max, the file must define
FCE_GRID_MAX (common.cuh) and its value v becomes EMU_GRID_MAX(v): the test can then lower the
grid cap at run time so that grid-stride loops iterate on small shapes.

Everything else is left as it is: emu_cuda.h supplies __global__, __shared__, threadIdx, the
intrinsics, and so on. The output is written only when its content changes. Python 3 standard
library only; it never writes next to its input.
"""
import os
import re
import sys


class RewriteError(Exception):
    pass


def skip_literal_or_comment(src, i):
    """If a comment or literal starts at i, return the index just after it, else None."""
    if src.startswith('//', i):
        j = src.find('\n', i)
        return len(src) if j < 0 else j
    if src.startswith('/*', i):
        j = src.find('*/', i + 2)
        if j < 0:
            raise RewriteError('unterminated comment')
        return j + 2
    if src[i] in '"\'':
        q = src[i]
        j = i + 1
        while j < len(src) and src[j] != q:
            j += 2 if src[j] == '\\' else 1
        if j >= len(src):
            raise RewriteError('unterminated literal')
        return j + 1
    return None


def kernel_name_start(src, j):
    """Start of the kernel expression that ends just before index j (an identifier, possibly
    qualified with ::, possibly with template arguments <...>)."""
    k = j
    while k > 0 and src[k - 1].isspace():
        k -= 1
    end = k
    if k > 0 and src[k - 1] == '>':  # template arguments: back to the matching '<'
        depth = 0
        while k > 0:
            k -= 1
            if src[k] == '>':
                depth += 1
            elif src[k] == '<':
                depth -= 1
                if depth == 0:
                    break
        else:
            raise RewriteError('unbalanced template arguments before <<<')
    while k > 0 and (src[k - 1].isalnum() or src[k - 1] in '_:'):
        k -= 1
    if k == end or not (src[k].isalpha() or src[k] in '_:'):
        raise RewriteError('no kernel name before <<<')
    return k, src[k:end].strip()


def split_config(cfg):
    """Split the launch configuration at top-level commas."""
    parts, depth, cur = [], 0, ''
    for ch in cfg:
        if ch in '([{':
            depth += 1
        elif ch in ')]}':
            depth -= 1
        if ch == ',' and depth == 0:
            parts.append(cur)
            cur = ''
        else:
            cur += ch
    parts.append(cur)
    if not 2 <= len(parts) <= 4 or any(not p.strip() for p in parts):
        raise RewriteError('launch configuration must have 2 to 4 parts: <<<%s>>>' % cfg)
    return parts


def rewrite_launches(src):
    out, i, last, n = [], 0, 0, 0
    while i < len(src):
        after = skip_literal_or_comment(src, i)
        if after is not None:
            i = after
            continue
        if not src.startswith('<<<', i):
            i += 1
            continue
        start, name = kernel_name_start(src, i)
        # the configuration ends at the first >>> outside parentheses
        j, depth = i + 3, 0
        while True:
            if j >= len(src):
                raise RewriteError('no >>> after <<< of %s' % name)
            skip = skip_literal_or_comment(src, j)
            if skip is not None:
                j = skip
                continue
            if src[j] == '(':
                depth += 1
            elif src[j] == ')':
                depth -= 1
            elif depth == 0 and src.startswith('>>>', j):
                break
            j += 1
        cfg = src[i + 3:j]
        parts = split_config(cfg)
        p = j + 3
        while p < len(src) and src[p].isspace():
            p += 1
        if p >= len(src) or src[p] != '(':
            raise RewriteError('no argument list after the launch of %s' % name)
        q = p + 1
        while q < len(src) and src[q].isspace():
            q += 1
        has_args = q < len(src) and src[q] != ')'
        shmem = parts[2].strip() if len(parts) > 2 else '0'
        stream = parts[3].strip() if len(parts) > 3 else 'nullptr'
        newlines = src.count('\n', start, p + 1)
        out.append(src[last:start])
        out.append('::emu::launch("%s", %s, dim3(%s), dim3(%s), (size_t)(%s), (%s)%s%s' % (
            name, name, parts[0].strip(), parts[1].strip(), shmem, stream,
            ', ' if has_args else '', '\n' * newlines))
        last = i = p + 1
        n += 1
    out.append(src[last:])
    return ''.join(out), n


def main(argv):
    args = [a for a in argv[1:] if not a.startswith('--')]
    flags = [a for a in argv[1:] if a.startswith('--')]
    if len(args) != 2 or any(f != '--grid-max' for f in flags):
        sys.stderr.write('usage: cu2cpp.py INPUT OUTPUT [--grid-max]\n')
        return 2
    src_path, dst_path = args
    if os.path.abspath(os.path.dirname(dst_path)) == os.path.abspath(os.path.dirname(src_path)):
        sys.stderr.write('cu2cpp.py: refusing to write into the source folder %s\n'
                         % os.path.dirname(src_path))
        return 2
    with open(src_path, encoding='utf-8') as f:
        src = f.read()
    try:
        body, n = rewrite_launches(src)
    except RewriteError as e:
        sys.stderr.write('cu2cpp.py: %s: %s\n' % (src_path, e))
        return 1
    if '--grid-max' in flags:
        pat = re.compile(r'^(\s*#\s*define\s+FCE_GRID_MAX\s+)(\S+)(.*)$', re.M)
        body, k = pat.subn(r'\1EMU_GRID_MAX(\2)\3', body)
        if k != 1:
            sys.stderr.write('cu2cpp.py: %s: expected one #define FCE_GRID_MAX, found %d '
                             '(update tests/emu/cu2cpp.py)\n' % (src_path, k))
            return 1
    header = ('// GENERATED by tests/emu/cu2cpp.py from %s (%d launches rewritten): do not edit.\n'
              % (os.path.basename(src_path), n))
    # '#line 1' keeps the line numbers of the input in compiler messages.
    text = header + '#line 1\n' + body
    os.makedirs(os.path.dirname(os.path.abspath(dst_path)), exist_ok=True)
    try:
        with open(dst_path, encoding='utf-8') as f:
            if f.read() == text:
                return 0
    except OSError:
        pass
    tmp = dst_path + '.tmp'
    with open(tmp, 'w', encoding='utf-8') as f:
        f.write(text)
    os.replace(tmp, dst_path)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
