#!/usr/bin/env bash
# get-data.sh DATASET DIR: downloads the official files of an image dataset into DIR, checks them
# against their published MD5 checksums, unpacks them, and prints the --data-dir to train with.
#   cifar10  https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz (162 MB; the C/binary
#            version; MD5 from the CIFAR page) -> DIR/cifar-10-batches-bin
#   svhn     http://ufldl.stanford.edu/housenumbers/{train,test}_32x32.mat (174 + 61 MB; MD5s as
#            torchvision publishes them) -> DIR
# A file already in DIR whose checksum matches is not downloaded again. A download goes to
# <file>.part and is renamed only after its checksum matched, so DIR never holds a partial or
# corrupt file under the final name; a mismatch removes it and exits 1.
# Environment (for tests and mirrors): FCE_DATA_URL_BASE replaces the base URL of every file;
# FCE_DATA_MD5_<file name with [.-] as _> replaces one expected checksum.
set -euo pipefail

usage() { echo "usage: scripts/get-data.sh cifar10|svhn DIR" >&2; exit 2; }
[ $# -eq 2 ] || usage
dataset="$1" dir="$2"
case "$dataset" in
  cifar10) base="https://www.cs.toronto.edu/~kriz"
           files=("cifar-10-binary.tar.gz c32a1d4ab5d03f1284b67883e8d87530") ;;
  svhn)    base="http://ufldl.stanford.edu/housenumbers"
           files=("train_32x32.mat e26dedcc434d2e4c54c9b2d4a06d8373"
                  "test_32x32.mat eb5a983be6a315427106f1b164d9cef3") ;;
  *) echo "get-data.sh: unknown dataset '$dataset' (cifar10 or svhn)" >&2; exit 2 ;;
esac
base="${FCE_DATA_URL_BASE:-$base}"
mkdir -p "$dir" || { echo "get-data.sh: cannot create $dir" >&2; exit 1; }

fetch() { # fetch URL OUT
  if command -v curl >/dev/null; then curl -fL --retry 3 -o "$2" "$1"
  elif command -v wget >/dev/null; then wget -q -O "$2" "$1"
  else echo "get-data.sh: needs curl or wget (apt-get install curl)" >&2; return 1; fi
}

for entry in "${files[@]}"; do
  name="${entry%% *}" md5="${entry##* }"
  override="FCE_DATA_MD5_$(tr '.-' '__' <<<"$name")"
  md5="${!override:-$md5}"
  out="$dir/$name"
  if [ -f "$out" ] && [ "$(md5sum "$out" | cut -d' ' -f1)" = "$md5" ]; then
    echo "get-data.sh: $out is present and its checksum matches" >&2
    continue
  fi
  echo "get-data.sh: downloading $base/$name" >&2
  rm -f "$out.part"
  if ! fetch "$base/$name" "$out.part"; then
    rm -f "$out.part"; echo "get-data.sh: download of $base/$name failed" >&2; exit 1
  fi
  got="$(md5sum "$out.part" | cut -d' ' -f1)"
  if [ "$got" != "$md5" ]; then
    rm -f "$out.part"
    echo "get-data.sh: $name has MD5 $got, expected $md5 (corrupt or changed download; removed, try again)" >&2
    exit 1
  fi
  mv "$out.part" "$out"
done

if [ "$dataset" = cifar10 ]; then
  tar -xzf "$dir/cifar-10-binary.tar.gz" -C "$dir" cifar-10-batches-bin ||
    { echo "get-data.sh: cannot unpack $dir/cifar-10-binary.tar.gz" >&2; exit 1; }
  for f in data_batch_1.bin data_batch_2.bin data_batch_3.bin data_batch_4.bin data_batch_5.bin test_batch.bin; do
    [ -f "$dir/cifar-10-batches-bin/$f" ] || { echo "get-data.sh: the archive lacks $f" >&2; exit 1; }
  done
  echo "--data-dir $dir/cifar-10-batches-bin"
else
  echo "--data-dir $dir"
fi
