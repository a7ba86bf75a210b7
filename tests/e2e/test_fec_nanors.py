"""GF(2^8) FEC parity of lumen against the Moonlight client's own Reed-Solomon (nanors), in-process.

Loads the stock client's ``libmoonlight-common-c.so`` (bundled in moonlight-python) and lumen's
``$LUMEN_BIN_DIR/liblumen_core.so`` with ctypes. Test vectors: data shards of seeded pseudo-random bytes
(``random.Random(seed)``), for fixed shapes (1+1 ... 200+40, the 4+2 audio block, the 255-shard extremes)
and random shapes and shard lengths; the expected parity is whatever the client's encoder produces for the
same data. Then each side decodes the other's parity after erasures.
"""

import ctypes
import importlib.util
import os
import random
from pathlib import Path

import pytest

c_int = ctypes.c_int
u8p = ctypes.POINTER(ctypes.c_uint8)


def _client_lib_path() -> Path:
    override = os.environ.get("LUMEN_MOONLIGHT_LIB")
    if override:
        return Path(override)
    spec = importlib.util.find_spec("moonlight_python")
    assert spec is not None and spec.submodule_search_locations, "moonlight-python is not installed in this venv"
    return Path(list(spec.submodule_search_locations)[0]) / "libmoonlight-common-c.so"


def _lumen_lib_path() -> Path:
    bin_dir = os.environ.get("LUMEN_BIN_DIR") or os.path.join(
        os.environ.get("CARGO_TARGET_DIR", "/root/.cache/lumen/target"), "debug"
    )
    return Path(bin_dir) / "liblumen_core.so"


class Nanors:
    """The client's nanors, through the function pointers ``reed_solomon_init()`` selects for this CPU, or
    through the portable ``_def`` symbols."""

    NEW = ctypes.CFUNCTYPE(ctypes.c_void_p, c_int, c_int)
    ENC = ctypes.CFUNCTYPE(c_int, ctypes.c_void_p, ctypes.POINTER(u8p), c_int, c_int)
    DEC = ctypes.CFUNCTYPE(c_int, ctypes.c_void_p, ctypes.POINTER(u8p), u8p, c_int, c_int)

    def __init__(self, lib: ctypes.CDLL, variant: str):
        if variant == "dispatch":
            lib.reed_solomon_init()
            self.new = self.NEW(ctypes.c_void_p.in_dll(lib, "reed_solomon_new_fn").value)
            self.enc = self.ENC(ctypes.c_void_p.in_dll(lib, "reed_solomon_encode_fn").value)
            self.dec = self.DEC(ctypes.c_void_p.in_dll(lib, "reed_solomon_decode_fn").value)
        else:
            self.new = self.NEW(("reed_solomon_new_" + variant, lib))
            self.enc = self.ENC(("reed_solomon_encode_" + variant, lib))
            self.dec = self.DEC(("reed_solomon_decode_" + variant, lib))
        self.codecs = {}

    def codec(self, d, p):
        if (d, p) not in self.codecs:
            rs = self.new(d, p)
            assert rs, f"nanors refused {d}+{p}"
            self.codecs[(d, p)] = rs
        return self.codecs[(d, p)]

    def encode(self, shards, d, p, length):
        ptrs = (u8p * (d + p))(*[ctypes.cast(s, u8p) for s in shards])
        assert self.enc(self.codec(d, p), ptrs, d + p, length) == 0

    def decode(self, shards, missing, d, p, length):
        ptrs = (u8p * (d + p))(*[ctypes.cast(s, u8p) for s in shards])
        marks = (ctypes.c_uint8 * (d + p))(*[1 if i in missing else 0 for i in range(d + p)])
        return self.dec(self.codec(d, p), ptrs, marks, d + p, length)


@pytest.fixture(scope="module")
def client_lib():
    path = _client_lib_path()
    assert path.exists(), f"the stock client's library is missing: {path}"
    return ctypes.CDLL(str(path))


@pytest.fixture(scope="module")
def nanors(client_lib):
    return Nanors(client_lib, "dispatch")


@pytest.fixture(scope="module")
def lumen():
    path = _lumen_lib_path()
    assert path.exists(), f"lumen's cdylib is missing (build lumen-core): {path}"
    lib = ctypes.CDLL(str(path))
    lib.lumen_fec_encode.argtypes = [ctypes.c_uint32, ctypes.c_uint32, ctypes.c_uint32, ctypes.c_size_t, ctypes.POINTER(u8p)]
    lib.lumen_fec_encode.restype = ctypes.c_int32
    lib.lumen_fec_reconstruct.argtypes = [
        ctypes.c_uint32, ctypes.c_uint32, ctypes.c_uint32, ctypes.c_size_t, ctypes.POINTER(u8p), u8p,
    ]
    lib.lumen_fec_reconstruct.restype = ctypes.c_int32
    return lib


def lumen_encode(lib, shards, d, p, length):
    ptrs = (u8p * (d + p))(*[ctypes.cast(s, u8p) for s in shards])
    return lib.lumen_fec_encode(8, d, p, length, ptrs)


def lumen_reconstruct(lib, shards, missing, d, p, length):
    ptrs = (u8p * (d + p))(*[ctypes.cast(s, u8p) for s in shards])
    present = (ctypes.c_uint8 * (d + p))(*[0 if i in missing else 1 for i in range(d + p)])
    return lib.lumen_fec_reconstruct(8, d, p, length, ptrs, ctypes.cast(present, u8p))


def make_block(rng, d, p, length):
    return [ctypes.create_string_buffer(rng.randbytes(length) if i < d else bytes(length), length) for i in range(d + p)]


FIXED = [(1, 1, 1), (1, 1, 1392), (2, 1, 64), (4, 2, 1392), (4, 2, 180), (10, 3, 1392), (30, 10, 1000),
         (50, 10, 1392), (100, 20, 1392), (128, 127, 100), (200, 40, 1392), (200, 55, 1392), (1, 254, 33),
         (254, 1, 33), (5, 20, 77)]


def random_shapes(n, seed):
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        d = rng.randint(1, 220)
        p = rng.randint(1, min(100, 255 - d))
        out.append((d, p, rng.randint(1, 1500)))
    return out


SHAPES = FIXED + random_shapes(45, 2026)


@pytest.mark.parametrize("d,p,length", SHAPES, ids=[f"{d}+{p}x{n}" for d, p, n in SHAPES])
def test_parity_is_byte_identical_to_client_encoder(nanors, lumen, d, p, length):
    rng = random.Random(d * 1_000_003 + p * 1009 + length)
    theirs = make_block(rng, d, p, length)
    ours = [ctypes.create_string_buffer(s.raw, length) for s in theirs]
    nanors.encode(theirs, d, p, length)
    assert lumen_encode(lumen, ours, d, p, length) == 0
    for j in range(d, d + p):
        assert ours[j].raw == theirs[j].raw, f"parity shard {j - d} differs for {d}+{p}x{length}"


@pytest.mark.parametrize("d,p,length", SHAPES[::2], ids=[f"{d}+{p}x{n}" for d, p, n in SHAPES[::2]])
def test_each_side_decodes_the_others_parity(nanors, lumen, d, p, length):
    rng = random.Random(d * 7919 + p * 31 + length)
    original = make_block(rng, d, p, length)
    data = [s.raw for s in original[:d]]

    # lumen parity -> client decoder
    ours = [ctypes.create_string_buffer(s.raw, length) for s in original]
    assert lumen_encode(lumen, ours, d, p, length) == 0
    lost = min(d, p)
    missing = set(rng.sample(range(d), lost))
    if lost < p:
        missing.add(d + rng.randrange(p))  # and a parity shard, still recoverable
    for i in missing:
        ctypes.memset(ours[i], 0x5A, length)
    assert nanors.decode(ours, missing, d, p, length) == 0
    assert [s.raw for s in ours[:d]] == data, "client could not decode lumen parity"

    # client parity -> lumen decoder
    theirs = [ctypes.create_string_buffer(s.raw, length) for s in original]
    nanors.encode(theirs, d, p, length)
    missing = set(rng.sample(range(d), lost))
    for i in missing:
        ctypes.memset(theirs[i], 0xA5, length)
    assert lumen_reconstruct(lumen, theirs, missing, d, p, length) == 0
    assert [s.raw for s in theirs[:d]] == data, "lumen could not decode client parity"


def test_portable_client_encoder_agrees_too(client_lib, lumen):
    """The client's portable (`_def`) nanors build gives the same parity as lumen (so the match does not
    depend on which SIMD path the client picked on this CPU)."""
    portable = Nanors(client_lib, "def")
    for d, p, length in FIXED + random_shapes(10, 7):
        rng = random.Random(length * 13 + d)
        theirs = make_block(rng, d, p, length)
        ours = [ctypes.create_string_buffer(s.raw, length) for s in theirs]
        portable.encode(theirs, d, p, length)
        assert lumen_encode(lumen, ours, d, p, length) == 0
        assert [s.raw for s in ours[d:]] == [s.raw for s in theirs[d:]], f"{d}+{p}x{length}"


def test_too_much_loss_is_reported_not_crashed(lumen):
    d, p, length = 20, 5, 100
    block = make_block(random.Random(5), d, p, length)
    assert lumen_encode(lumen, block, d, p, length) == 0
    assert lumen_reconstruct(lumen, block, set(range(6)), d, p, length) == -5  # LUMEN_FEC_ERR_UNRECOVERABLE
