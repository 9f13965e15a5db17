"""vqlab_probe: record what a PyTorch quantizer layer computes, for `vqlab check`.

Needs numpy and torch only (vqlab is not imported). It runs the layer once in
training mode on rows z, takes L = sum(upstream * output) + aux_loss, calls
backward, and writes a probe directory in the format of docs/PROBE.md:

    z.npy, codebook.npy, output.npy, assignments.npy, aux_loss.npy,
    upstream.npy, grad_z.npy, [grad_codebook.npy], probe.json

From Python, for any layer:

    from vqlab_probe import probe
    probe(my_layer, "probe-dir", dim=8)                # draws z and u
    probe(my_layer, "probe-dir", z=my_z, codebook="quantizer.embedding.weight")

From the shell, for vector-quantize-pytorch's VectorQuantize:

    python vqlab_probe.py --vq "dim=8, codebook_size=32, rotation_trick=False" --out probe-dir
    vqlab check probe-dir

The layer's return value is read by `unpack` (default: the first float tensor
shaped like the input is the output, an integer tensor the assignments, a
one-element float tensor the aux loss; a layer that returns no assignments gets
the nearest codes). Layers that take (batch, tokens, dim) get z as one
sequence (1, B, m); pass `to_input`/`from_output` for other layouts.
"""
import argparse
import ast
import json
import os

import numpy as np
import torch

FORMAT = "vqlab-probe/1"

# Attribute paths tried, in order, when the codebook is not named.
CODEBOOK_NAMES = [
    "_codebook.embed",
    "codebook",
    "embedding.weight",
    "embed",
    "embeddings.weight",
    "quantizer.embedding.weight",
    "vq.embedding.weight",
]


def _attr(obj, path):
    for part in path.split("."):
        obj = getattr(obj, part)
    return obj


def find_codebook(layer, name=None):
    """The codebook tensor of `layer` (K x m after squeezing leading 1s)."""
    names = [name] if isinstance(name, str) else CODEBOOK_NAMES
    for n in names:
        try:
            t = _attr(layer, n)
        except AttributeError:
            continue
        if isinstance(t, torch.Tensor) and t.dim() >= 2:
            if t.dim() > 2 and any(s != 1 for s in t.shape[:-2]):
                raise ValueError(
                    "the codebook %s has shape %s: several codebooks (heads or levels); "
                    "probe one codebook at a time (pass codebook= a K x m tensor and a layer "
                    "that uses only it)" % (n, tuple(t.shape))
                )
            return n, t
    raise ValueError(
        "no codebook found under %s: pass codebook='attribute.path' or a tensor" % names
    )


def _as_rows(t, m):
    return t.reshape(-1, m)


def default_unpack(ret, rows, m):
    """(output, assignments or None, aux loss or None) from a layer's return."""
    if isinstance(ret, dict):
        items = list(ret.values())
    elif isinstance(ret, (tuple, list)):
        items = list(ret)
    else:
        items = [ret]
    output = assignments = aux = None
    for it in items:
        if not isinstance(it, torch.Tensor):
            continue
        if it.is_floating_point() and it.numel() == rows * m and output is None:
            output = it
        elif not it.is_floating_point() and it.numel() == rows and assignments is None:
            assignments = it
        elif it.is_floating_point() and it.numel() == 1 and aux is None:
            aux = it
    if output is None:
        got = [
            tuple(it.shape) if isinstance(it, torch.Tensor) else type(it).__name__
            for it in items
        ]
        raise ValueError(
            "the layer returned no float tensor of %d x %d values (it returned %s); "
            "pass unpack=lambda ret: (output, assignments or None, aux_loss or None)"
            % (rows, m, got)
        )
    return output, assignments, aux


def probe(
    layer,
    out_dir,
    z=None,
    rows=64,
    dim=None,
    codebook=None,
    upstream=None,
    seed=0,
    unpack=None,
    to_input=None,
    from_output=None,
    warmup=True,
    meta=None,
):
    """Runs `layer` on z (rows x dim; drawn N(0, 1) from `seed` when None) with
    upstream gradient `upstream` (drawn when None) and writes the probe to
    `out_dir`. `codebook`: an attribute path, a tensor, or None to search
    CODEBOOK_NAMES. `warmup`: one forward pass first (k-means or other
    data-dependent initialisation happens there), so the codebook recorded is
    the one the probed pass uses. Returns the directory."""
    gen = torch.Generator().manual_seed(seed)
    if isinstance(codebook, torch.Tensor):
        book_name, book = "given", codebook
    else:
        book_name, book = find_codebook(layer, codebook)
    m = book.shape[-1]
    if dim is not None and dim != m:
        raise ValueError("dim %d differs from the codebook's width %d" % (dim, m))
    if z is None:
        z = torch.randn(rows, m, generator=gen, dtype=torch.float64)
    z = torch.as_tensor(z)
    rows = z.shape[0]
    dtype = book.dtype
    to_input = to_input or (lambda t: t.unsqueeze(0))
    from_output = from_output or (lambda t: _as_rows(t, m))
    unpack = unpack or (lambda ret: default_unpack(ret, rows, m))
    layer.train()

    def call(x):
        try:
            return layer(to_input(x))
        except Exception as e:
            raise RuntimeError(
                "the layer failed on input of shape %s (rows z of shape %s through to_input): %s. "
                "A layer that takes (B, m) needs to_input=lambda t: t; one whose input width "
                "differs from its codebook's (a projection before the look-up, e.g. project_in or "
                "codebook_dim) must be probed at the quantizer itself, where rows and codes have "
                "the same width" % (tuple(to_input(x).shape), tuple(x.shape), e)
            ) from e

    if warmup:
        with torch.no_grad():
            call(z.to(dtype))
        if not isinstance(codebook, torch.Tensor):
            book_name, book = find_codebook(layer, book_name)
    # The codebook as the probed pass sees it: an EMA update inside the pass
    # happens after the look-up.
    book_before = book.detach().clone().reshape(-1, m)
    trainable = bool(book.requires_grad)
    if trainable and book.grad is not None:
        book.grad = None
    z_in = z.to(dtype).clone().requires_grad_(True)
    ret = call(z_in)
    output, assignments, aux = unpack(ret)
    out_rows = from_output(output)
    if upstream is None:
        upstream = torch.randn(rows, m, generator=gen, dtype=torch.float64)
    u = torch.as_tensor(upstream).to(out_rows.dtype)
    loss = (u * out_rows).sum()
    if aux is not None and aux.requires_grad:
        loss = loss + aux.sum()
    loss.backward()
    grad_z = z_in.grad if z_in.grad is not None else torch.zeros_like(z_in)
    if assignments is None:
        d = torch.cdist(z_in.detach().double(), book_before.double())
        assignments = d.argmin(dim=1)
    os.makedirs(out_dir, exist_ok=True)

    def save(name, t):
        a = t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)
        np.save(os.path.join(out_dir, name), a)

    save("z.npy", z_in.detach().double())
    save("codebook.npy", book_before.double())
    save("output.npy", out_rows.detach().double())
    save("assignments.npy", torch.as_tensor(assignments).reshape(-1).long())
    save("aux_loss.npy", np.array(float(aux.detach().sum()) if aux is not None else 0.0))
    save("upstream.npy", u.double())
    save("grad_z.npy", grad_z.double())
    grad_book = book.grad if trainable else None
    if grad_book is not None:
        save("grad_codebook.npy", grad_book.reshape(-1, m).double())
    elif trainable:
        # Trainable but untouched by backward: a zero gradient, recorded.
        save("grad_codebook.npy", torch.zeros_like(book_before).double())
    info = {
        "format": FORMAT,
        "library": (meta or {}).get("library", type(layer).__module__.split(".")[0]),
        "version": (meta or {}).get("version", ""),
        "layer": type(layer).__name__,
        "dtype": str(dtype).replace("torch.", ""),
        "codebook": book_name,
        "codebook_trainable": trainable,
        "seed": seed,
        "torch": torch.__version__,
    }
    info.update({k: v for k, v in (meta or {}).items() if k not in ("library", "version")})
    with open(os.path.join(out_dir, "probe.json"), "w") as f:
        json.dump(info, f, indent=2, sort_keys=True)
        f.write("\n")
    return out_dir


def _parse_kwargs(text):
    out = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, _, value = part.partition("=")
        out[key.strip()] = ast.literal_eval(value.strip())
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--vq", required=True, help="VectorQuantize keyword arguments, e.g. \"dim=8, codebook_size=32\"")
    ap.add_argument("--out", required=True, help="the probe directory to write")
    ap.add_argument("--rows", type=int, default=64, help="rows of z (default 64)")
    ap.add_argument("--seed", type=int, default=0, help="seed of z, u and the layer's initialisation")
    args = ap.parse_args()
    import vector_quantize_pytorch as vqp
    from importlib.metadata import version

    kwargs = _parse_kwargs(args.vq)
    torch.manual_seed(args.seed)
    layer = vqp.VectorQuantize(**kwargs)
    probe(
        layer,
        args.out,
        rows=args.rows,
        seed=args.seed,
        meta={
            "library": "vector-quantize-pytorch",
            "version": version("vector-quantize-pytorch"),
            "flags": kwargs,
        },
    )
    print(args.out)


if __name__ == "__main__":
    main()
