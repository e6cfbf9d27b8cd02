"""A minimal TensorFlow V2 checkpoint writer, for tests (no TensorFlow needed).

It writes what ``tf.compat.v1.train.Saver`` writes for plain variables: one
data shard with the tensors' bytes in name order, and an ``.index`` table
(one data block with restart points every 16 keys, an index block, an empty
metaindex block, the footer) whose empty key holds the bundle header. The
committed fixture written by real TensorFlow (``fixtures/tf_checkpoint``)
is read by the same reader in ``test_tf_checkpoint.py``, and
``fixtures/make_tf_checkpoint.py`` checks that TensorFlow reads what this
writer writes.

Options make broken files for the reader's error tests.
"""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path

import google_crc32c
import numpy as np

from mono_depth_models.tf_checkpoint import FOOTER_SIZE, TABLE_MAGIC, mask_crc

_DTYPE_ENUM = {
    np.dtype("float32"): 1, np.dtype("float64"): 2, np.dtype("int32"): 3, np.dtype("uint8"): 4,
    np.dtype("int16"): 5, np.dtype("int8"): 6, np.dtype("int64"): 9, np.dtype("bool"): 10,
    np.dtype("uint16"): 17, np.dtype("float16"): 19, np.dtype("uint32"): 22, np.dtype("uint64"): 23,
}


def _varint(v: int) -> bytes:
    v &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _field(number: int, wire: int, payload) -> bytes:
    key = _varint(number << 3 | wire)
    if wire == 0:
        return key + _varint(payload)
    if wire == 5:
        return key + struct.pack("<I", payload)
    return key + _varint(len(payload)) + payload


def _entry_proto(dtype: int, shape: tuple, offset: int, size: int, crc: int) -> bytes:
    dims = b"".join(_field(2, 2, _field(1, 0, d) if d else b"") for d in shape)
    out = _field(1, 0, dtype) + _field(2, 2, dims)
    if offset:
        out += _field(4, 0, offset)
    if size:
        out += _field(5, 0, size)
    return out + _field(6, 5, crc)


def _block(entries: list, restart_interval: int) -> bytes:
    out, restarts, last = bytearray(), [], b""
    for i, (key, value) in enumerate(entries):
        if i % restart_interval == 0:
            restarts.append(len(out))
            shared = 0
        else:
            shared = 0
            while shared < min(len(key), len(last)) and key[shared] == last[shared]:
                shared += 1
        out += _varint(shared) + _varint(len(key) - shared) + _varint(len(value))
        out += key[shared:] + value
        last = key
    restarts = restarts or [0]
    out += b"".join(struct.pack("<I", r) for r in restarts) + struct.pack("<I", len(restarts))
    return bytes(out)


def _with_trailer(contents: bytes, kind: int = 0) -> bytes:
    crc = google_crc32c.value(contents + bytes([kind]))
    return contents + bytes([kind]) + struct.pack("<I", mask_crc(crc))


def write_checkpoint(prefix, tensors: dict, *, corrupt_crc: str | None = None, truncate_data: int = 0,
                     compression: int = 0, entry_dtype: dict | None = None) -> list:
    """Write ``{name: ndarray}`` as ``prefix.index`` + ``prefix.data-00000-of-00001``.

    ``corrupt_crc``: record a wrong crc32c for that variable; ``truncate_data``:
    drop that many bytes from the end of the data shard; ``compression``: the
    compression byte of the data block's trailer; ``entry_dtype``: dtype
    enums to record instead of the arrays' own. Returns the written paths."""
    prefix = str(prefix)
    data = bytearray()
    records = []
    for name in sorted(tensors):
        a = np.asarray(tensors[name], order="C")  # (ascontiguousarray would make a scalar 1-d)
        raw = a.astype(a.dtype.newbyteorder("<")).tobytes()
        crc = google_crc32c.value(raw)
        if name == corrupt_crc:
            crc ^= 1
        dtype = (entry_dtype or {}).get(name, _DTYPE_ENUM[a.dtype])
        records.append((name.encode(), _entry_proto(dtype, a.shape, len(data), len(raw), mask_crc(crc))))
        data += raw
    # BundleHeaderProto: num_shards 1, endianness LITTLE (0, omitted), version {producer 1}
    header = _field(1, 0, 1) + _field(3, 2, _field(1, 0, 1))
    data_block = _with_trailer(_block([(b"", header)] + records, 16), compression)
    meta_block = _with_trailer(_block([], 16))
    last_key = records[-1][0] if records else b""
    index_contents = _block([(last_key + b"\xff", _varint(0) + _varint(len(data_block) - 5))], 1)
    index_block = _with_trailer(index_contents)
    meta_offset = len(data_block)
    index_offset = meta_offset + len(meta_block)
    handles = _varint(meta_offset) + _varint(len(meta_block) - 5) + _varint(index_offset) + _varint(
        len(index_block) - 5)
    footer = handles + b"\0" * (FOOTER_SIZE - 8 - len(handles)) + struct.pack("<Q", TABLE_MAGIC)
    index_path = Path(prefix + ".index")
    data_path = Path(prefix + ".data-00000-of-00001")
    index_path.write_bytes(data_block + meta_block + index_block + footer)
    data_path.write_bytes(bytes(data[: len(data) - truncate_data]))
    return [index_path, data_path]


def zip_checkpoint(zip_path, files: list, *, compress: bool = False) -> Path:
    """Zip the checkpoint's files at the zip's top level, as the official zip has them."""
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(zip_path, "w", method) as z:
        for f in files:
            z.write(f, Path(f).name)
    return Path(zip_path)


def fcrn_tensors(weights: dict, decoys: bool = True) -> dict:
    """``{layer: {param: array}}`` as checkpoint variables ``layer/param``,
    with the interleaving op's integer ``x_0``, ``x_1`` and a ``global_step``."""
    from tests.fixture_values import decoys as decoy_values

    out = {f"{layer}/{param}": a for layer, params in weights.items() for param, a in params.items()}
    if decoys:
        out.update(decoy_values())
    return out
