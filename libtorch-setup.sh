#!/usr/bin/env bash
# libtorch-setup.sh — install what vqlab needs to build and test, idempotently.
#
#   * Debian's libopenblas-dev (LAPACK/BLAS for ndarray-linalg), when missing;
#   * a CPU-only libtorch 2.13.0 (the version tch 0.26 expects), cut out of the
#     PyPI wheel torch==2.13.0 with its CUDA-only libraries left out, plus the two
#     small CUDA runtime libraries that libtorch_cpu.so of that wheel still links;
#   * a link ./libtorch -> the per-user cache, where .cargo/config.toml points
#     LIBTORCH.
#
# The cut libtorch lives in a per-user cache (default ~/.cache/vqlab, override
# with VQLAB_CACHE), so a second clone reuses it; a second run takes seconds and
# prints nothing. Download addresses are never hard-coded: pip resolves them.
set -euo pipefail

TORCH_VERSION=2.13.0
CUDART_WHEEL="nvidia-cuda-runtime==13.0.96"
CUPTI_WHEEL="nvidia-cuda-cupti==13.0.85"

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache_root=${VQLAB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vqlab}
target="$cache_root/libtorch-$TORCH_VERSION-cpu"
link="$here/libtorch"

say() { echo "libtorch-setup: $*" >&2; }
die() { say "error: $*"; exit 1; }

# ---------------------------------------------------------------- OpenBLAS
have_openblas() {
  # What the build links: libopenblas.so (with LAPACK) and the cblas header.
  local so
  so=$(gcc -print-file-name=libopenblas.so 2>/dev/null || true)
  [ "$so" != "libopenblas.so" ] && [ -e "$so" ] && dpkg -s libopenblas-dev >/dev/null 2>&1
}
if ! have_openblas; then
  say "installing libopenblas-dev (apt-get)"
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || die "libopenblas-dev is missing and this user is not root and has no sudo; install it by hand"
    sudo="sudo"
  fi
  command -v apt-get >/dev/null 2>&1 || die "libopenblas-dev is missing and apt-get is not available; install OpenBLAS (with LAPACK) by hand"
  aptlog=$(mktemp)
  $sudo apt-get update -qq >"$aptlog" 2>&1 \
    || { cat "$aptlog" >&2; die "apt-get update failed (is the Debian mirror reachable?)"; }
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq libopenblas-dev >"$aptlog" 2>&1 \
    || { cat "$aptlog" >&2; die "apt-get install libopenblas-dev failed"; }
  rm -f "$aptlog"
fi

# ---------------------------------------------------------------- libtorch
if [ ! -f "$target/.complete" ]; then
  command -v python3 >/dev/null 2>&1 || die "python3 (with pip) is needed to fetch the torch wheel"
  mkdir -p "$cache_root" || die "cannot create the cache folder $cache_root"
  work=$(mktemp -d "$cache_root/.setup.XXXXXX") || die "cannot create a temporary folder in $cache_root"
  trap 'rm -rf "$work"' EXIT
  # The wheel is ~1 GB; the cut result ~0.5 GB. Check the disk before starting.
  avail_kb=$(df -Pk "$cache_root" | awk 'NR==2 {print $4}')
  if [ -n "$avail_kb" ] && [ "$avail_kb" -lt $((3 * 1024 * 1024)) ]; then
    die "less than 3 GiB free under $cache_root (have $((avail_kb / 1024)) MiB); free some space or set VQLAB_CACHE"
  fi
  say "downloading torch==$TORCH_VERSION with pip (about 1 GB, once per user)"
  python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$work/wheels" "torch==$TORCH_VERSION" \
    || die "pip download torch==$TORCH_VERSION failed (is PyPI reachable? is the disk full?)"
  say "downloading $CUDART_WHEEL and $CUPTI_WHEEL (libcudart.so.13, libcupti.so.13)"
  python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$work/wheels" "$CUDART_WHEEL" "$CUPTI_WHEEL" \
    || die "pip download of the CUDA runtime wheels failed"
  say "extracting a CPU-only libtorch into $target"
  python3 - "$work/wheels" "$work/libtorch" <<'PY' || die "extracting libtorch failed (disk full?)"
import glob, os, re, shutil, sys, zipfile
wheels, out = sys.argv[1], sys.argv[2]
# CUDA-only libraries: left out so that torch-sys links the CPU library only.
skip = re.compile(r"(libtorch_cuda.*|libc10_cuda\.so|libcaffe2_nvrtc\.so|libtorch_nvshmem\.so|libtorch_python\.so)$")
torch_whl = [w for w in glob.glob(os.path.join(wheels, "torch-*.whl"))]
if len(torch_whl) != 1:
    sys.exit("expected one torch wheel, found %r" % torch_whl)
kept = 0
with zipfile.ZipFile(torch_whl[0]) as z:
    for info in z.infolist():
        name = info.filename
        parts = name.split("/")
        if len(parts) < 3 or parts[0] != "torch" or parts[1] not in ("include", "lib", "share"):
            continue
        if info.is_dir() or skip.search(parts[-1]):
            continue
        dest = os.path.join(out, *parts[1:])
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        with z.open(info) as src, open(dest, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        kept += 1
libdir = os.path.join(out, "lib")
wanted = {"libcudart.so.13", "libcupti.so.13"}
for whl in glob.glob(os.path.join(wheels, "nvidia_cuda_*.whl")):
    with zipfile.ZipFile(whl) as z:
        for info in z.infolist():
            base = info.filename.rsplit("/", 1)[-1]
            if base in wanted:
                with z.open(info) as src, open(os.path.join(libdir, base), "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
                wanted.discard(base)
if wanted:
    sys.exit("missing from the CUDA runtime wheels: %s" % sorted(wanted))
print(kept, "files kept", file=sys.stderr)
PY
  echo "$TORCH_VERSION" > "$work/libtorch/build-version"
  touch "$work/libtorch/.complete"
  rm -rf "$target"
  mv "$work/libtorch" "$target" || die "cannot move libtorch into $target"
  rm -rf "$work"
  trap - EXIT
  say "libtorch $TORCH_VERSION (CPU) ready in $target"
fi

# ---------------------------------------------------------------- link
if [ "$(readlink "$link" 2>/dev/null || true)" != "$target" ]; then
  if [ -e "$link" ] && [ ! -L "$link" ]; then
    die "$link exists and is not a link; move it away and rerun"
  fi
  ln -sfn "$target" "$link"
  say "linked $link -> $target"
fi
