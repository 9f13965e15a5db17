"""Writes the probe fixtures of tests/data/check/ (tests/check.rs asserts what
`vqlab check` identifies in each).

Made with (see tests/data/check/README.md for the versions recorded):

    python -m venv /tmp/venv && /tmp/venv/bin/pip install torch numpy vector-quantize-pytorch==1.32.0
    /tmp/venv/bin/python python/make_check_fixtures.py tests/data/check

Every layer quantizes B = 64 rows of width m = 8 with K = 32 codes, seed 0.
"""
import sys
from importlib.metadata import version

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from vqlab_probe import probe  # noqa: E402

DIM, CODES, ROWS = 8, 32, 64

# vector-quantize-pytorch configurations: name -> VectorQuantize kwargs.
LIBRARY = {
    "vq-default": {},
    "vq-ste": {"rotation_trick": False},
    "vq-straight-through": {"straight_through": True, "rotation_trick": False},
    "vq-rotation-learnable": {"learnable_codebook": True, "ema_update": False},
    "vq-ste-learnable": {"learnable_codebook": True, "ema_update": False, "rotation_trick": False},
    "vq-commitment-0.25": {"commitment_weight": 0.25},
    "vq-cosine": {"use_cosine_sim": True},
    "vq-kmeans-init": {"kmeans_init": True, "kmeans_iters": 10},
    "vq-gumbel-straight-through": {
        "stochastic_sample_codes": True,
        "sample_codebook_temp": 1.0,
        "straight_through": True,
        "rotation_trick": False,
    },
}


class HandVQ(nn.Module):
    """A hand-written VQ layer in the style of the VQ-VAE repositories,
    with one of their classic bugs chosen by `bug`."""

    def __init__(self, bug, beta=0.25):
        super().__init__()
        self.bug, self.beta = bug, beta
        self.embedding = nn.Embedding(CODES, DIM)
        self.embedding.weight.data.uniform_(-1.0, 1.0)

    def forward(self, z):
        flat = z.reshape(-1, DIM)
        book = self.embedding.weight
        if self.bug == "detached-codebook":
            # The codebook enters as a constant: it never learns.
            book = book.detach()
        d = (flat.pow(2).sum(1, keepdim=True) - 2 * flat @ book.t() + book.pow(2).sum(1))
        idx = d.argmin(1)
        q = book[idx]
        if self.bug == "beta-on-codebook-term":
            # taming-transformers' wiring: beta on the codebook term.
            loss = F.mse_loss(q.detach(), flat) + self.beta * F.mse_loss(q, flat.detach())
        else:
            loss = self.beta * F.mse_loss(q.detach(), flat) + F.mse_loss(q, flat.detach())
        if self.bug == "rotation-normalised-twice":
            # The rotation trick with z normalised inside the graph before
            # rotating (then rescaled by |q|): the forward value is still q,
            # but the gradient loses its component along z.
            z_hat = flat / flat.norm(dim=1, keepdim=True)
            q_hat = (q / q.norm(dim=1, keepdim=True)).detach()
            w = F.normalize(z_hat + q_hat, dim=1).detach()
            rotated = (
                z_hat
                - 2 * (z_hat * w).sum(1, keepdim=True) * w
                + 2 * (z_hat * z_hat.detach()).sum(1, keepdim=True) * q_hat
            )
            out = rotated * q.norm(dim=1, keepdim=True).detach()
        else:
            out = flat + (q - flat).detach()
        return out.reshape(z.shape), idx, loss


HAND = ["beta-on-codebook-term", "detached-codebook", "rotation-normalised-twice"]


def main(root):
    import vector_quantize_pytorch as vqp

    lib_version = version("vector-quantize-pytorch")
    for name, kwargs in LIBRARY.items():
        torch.manual_seed(0)
        layer = vqp.VectorQuantize(dim=DIM, codebook_size=CODES, **kwargs)
        probe(
            layer,
            "%s/%s" % (root, name),
            rows=ROWS,
            seed=0,
            meta={"library": "vector-quantize-pytorch", "version": lib_version, "flags": kwargs},
        )
    for bug in HAND:
        torch.manual_seed(0)
        probe(
            HandVQ(bug),
            "%s/bug-%s" % (root, bug),
            rows=ROWS,
            seed=0,
            codebook="embedding.weight",
            meta={"library": "python/make_check_fixtures.py", "version": "1", "flags": {"bug": bug}},
        )
    print("wrote", len(LIBRARY) + len(HAND), "probes under", root)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/data/check")
