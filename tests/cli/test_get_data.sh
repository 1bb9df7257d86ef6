#!/usr/bin/env bash
# test_get_data.sh BIN: scripts/get-data.sh against a local HTTP server on 127.0.0.1 serving a small
# fake CIFAR-10 archive (its checksum given through the script's override variable):
#  - a good archive is downloaded, checked, unpacked, and the printed --data-dir holds the batches;
#  - a second run finds the file present and downloads nothing;
#  - a corrupted archive (the published checksum) exits 1, names the file and both checksums, and
#    leaves neither the file nor its .part behind;
#  - a missing file on the server exits 1; an unknown dataset exits 2;
#  - train --data-dir accepts the folder that holds cifar-10-batches-bin (the message about the
#    undersized fake batch names the file inside it).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
script="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/scripts/get-data.sh"
command -v python3 >/dev/null || { echo "skipped: needs python3 for the HTTP server"; exit 77; }

srv="$OUT/srv"; mkdir -p "$srv/good" "$srv/bad" "$OUT/pack/cifar-10-batches-bin"
for f in data_batch_1 data_batch_2 data_batch_3 data_batch_4 data_batch_5 test_batch; do
  head -c 3073 /dev/urandom >"$OUT/pack/cifar-10-batches-bin/$f.bin"
done
tar -czf "$srv/good/cifar-10-binary.tar.gz" -C "$OUT/pack" cifar-10-batches-bin
cp "$srv/good/cifar-10-binary.tar.gz" "$srv/bad/cifar-10-binary.tar.gz"
printf 'x' >>"$srv/bad/cifar-10-binary.tar.gz"
good_md5="$(md5sum "$srv/good/cifar-10-binary.tar.gz" | cut -d' ' -f1)"

port_file="$OUT/port"
python3 - "$srv" "$port_file" <<'PY' &
import functools, http.server, sys
class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass
httpd = http.server.HTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=sys.argv[1]))
open(sys.argv[2], "w").write(str(httpd.server_address[1]))
httpd.serve_forever()
PY
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$OUT"' EXIT
for _ in $(seq 100); do [ -s "$port_file" ] && break; sleep 0.1; done
url="http://127.0.0.1:$(cat "$port_file")"

d="$OUT/data"
got="$(FCE_DATA_URL_BASE="$url/good" FCE_DATA_MD5_cifar_10_binary_tar_gz="$good_md5" bash "$script" cifar10 "$d" 2>"$OUT/err")"
check good_exit test $? -eq 0
check good_data_dir test "$got" = "--data-dir $d/cifar-10-batches-bin"
check good_unpacked cmp -s "$d/cifar-10-batches-bin/test_batch.bin" "$OUT/pack/cifar-10-batches-bin/test_batch.bin"
FCE_DATA_URL_BASE="$url/none" FCE_DATA_MD5_cifar_10_binary_tar_gz="$good_md5" bash "$script" cifar10 "$d" >/dev/null 2>"$OUT/err2"
check present_skips_download grep -q "present and its checksum matches" "$OUT/err2"

b="$OUT/bad"
FCE_DATA_URL_BASE="$url/bad" bash "$script" cifar10 "$b" >/dev/null 2>"$OUT/err3"; rc=$?
check bad_exit_1 test $rc -eq 1
check bad_names_checksums grep -q "cifar-10-binary.tar.gz has MD5 [0-9a-f]*, expected c32a1d4ab5d03f1284b67883e8d87530" "$OUT/err3"
check bad_leaves_nothing bash -c "! ls '$b' | grep -q cifar"
FCE_DATA_URL_BASE="$url/none" bash "$script" svhn "$OUT/s" >/dev/null 2>"$OUT/err4"; rc=$?
check missing_exit_1 test $rc -eq 1
check missing_leaves_nothing bash -c "! ls '$OUT/s' | grep -q mat"
bash "$script" mnist "$OUT/m" >/dev/null 2>&1; rc=$?
check unknown_dataset_exit_2 test $rc -eq 2

expect parent_data_dir 1 "$d/cifar-10-batches-bin/data_batch_1.bin is 3073 bytes" -- train --dataset cifar10 --data-dir "$d" --device cpu --out "$OUT/run" --quiet
finish
