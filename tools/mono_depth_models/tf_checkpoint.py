"""Reading a TensorFlow V2 checkpoint without TensorFlow.

The FCRN authors' ``NYU_FCRN-checkpoint.zip`` holds a checkpoint in
TensorFlow's "tensor bundle" format (the one ``tf.compat.v1.train.Saver``
writes since TensorFlow 0.12):

* ``PREFIX.index``: a LevelDB-style sorted table. Data blocks of
  prefix-compressed ``(key, value)`` entries with a restart array, each block
  followed by a 5-byte trailer (compression type, masked crc32c); an index
  block pointing at the data blocks; a 48-byte footer with the index
  block's handle and the table's magic number. The empty key holds a
  ``BundleHeaderProto`` (shard count, endianness); every other key is a
  variable name whose value is a ``BundleEntryProto`` (dtype, shape, shard,
  offset, size, masked crc32c of the bytes).
* ``PREFIX.data-0000S-of-0000N``: the tensors' raw little-endian bytes.
* ``PREFIX.meta``: the graph, not needed for the weights.

Both protos are decoded from the protobuf wire format here (a handful of
fields), so neither TensorFlow nor its generated code is needed. Every
tensor's crc32c is checked. The variables of the authors' network are named
``<layer>/<param>`` (``tf.get_variable`` inside ``variable_scope(layer)``),
which :func:`weight_dict` turns into the ``{layer: {param: array}}`` dict
the ``.npy`` path gives; names without a scope (the interleaving op's integer
``x_0``, ``x_1``, ... and counters such as ``global_step``) are not weights
and are left out.
"""

from __future__ import annotations

import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path

import google_crc32c
import numpy as np

from .errors import ToolError

TABLE_MAGIC = 0xDB4775248B80FB57
FOOTER_SIZE = 48
BLOCK_TRAILER_SIZE = 5
_CRC_MASK_DELTA = 0xA282EAD8

# TensorFlow's DataType enum (types.proto) -> numpy little-endian dtype, for
# the numeric types a checkpoint of weights can hold.
DTYPES = {
    1: np.dtype("<f4"),   # DT_FLOAT
    2: np.dtype("<f8"),   # DT_DOUBLE
    3: np.dtype("<i4"),   # DT_INT32
    4: np.dtype("u1"),    # DT_UINT8
    5: np.dtype("<i2"),   # DT_INT16
    6: np.dtype("i1"),    # DT_INT8
    9: np.dtype("<i8"),   # DT_INT64
    10: np.dtype("?"),    # DT_BOOL
    17: np.dtype("<u2"),  # DT_UINT16
    19: np.dtype("<f2"),  # DT_HALF
    22: np.dtype("<u4"),  # DT_UINT32
    23: np.dtype("<u8"),  # DT_UINT64
}
DTYPE_NAMES = {7: "string", 8: "complex64", 14: "bfloat16", 18: "complex128", 20: "resource", 21: "variant"}


def unmask_crc(masked: int) -> int:
    """TensorFlow stores ``crc32c`` values masked (``crc32c::Mask``)."""
    rot = (masked - _CRC_MASK_DELTA) & 0xFFFFFFFF
    return ((rot >> 17) | (rot << 15)) & 0xFFFFFFFF


def mask_crc(crc: int) -> int:
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + _CRC_MASK_DELTA) & 0xFFFFFFFF


# -- protobuf wire format -------------------------------------------------------------


class _Malformed(Exception):
    pass


def _varint(buf: bytes, pos: int) -> tuple:
    result = shift = 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise _Malformed("truncated or overlong varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def _fields(buf: bytes):
    """Yield ``(field number, wire type, value)``; length-delimited values as bytes."""
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            if pos + 8 > len(buf):
                raise _Malformed("truncated fixed64")
            value, pos = struct.unpack_from("<Q", buf, pos)[0], pos + 8
        elif wire == 2:
            n, pos = _varint(buf, pos)
            if pos + n > len(buf):
                raise _Malformed("truncated length-delimited field")
            value, pos = buf[pos:pos + n], pos + n
        elif wire == 5:
            if pos + 4 > len(buf):
                raise _Malformed("truncated fixed32")
            value, pos = struct.unpack_from("<I", buf, pos)[0], pos + 4
        else:
            raise _Malformed(f"unsupported wire type {wire}")
        yield number, wire, value


def _int64(v: int) -> int:
    return v - (1 << 64) if v >= 1 << 63 else v


@dataclass(frozen=True)
class Entry:
    """One variable's ``BundleEntryProto``."""

    name: str
    dtype: int
    shape: tuple
    shard: int
    offset: int
    size: int
    crc32c: int  # masked, as stored
    sliced: bool

    @property
    def dtype_name(self) -> str:
        if self.dtype in DTYPES:
            return str(DTYPES[self.dtype].newbyteorder("="))
        return DTYPE_NAMES.get(self.dtype, f"TensorFlow dtype {self.dtype}")


def _shape(buf: bytes) -> tuple:
    dims = []
    for number, _, value in _fields(buf):
        if number == 2:  # Dim
            size = 0
            for n, _, v in _fields(value):
                if n == 1:
                    size = _int64(v)
            dims.append(size)
        elif number == 3 and value:
            raise _Malformed("unknown rank")
    return tuple(dims)


def _entry(name: str, buf: bytes) -> Entry:
    values = {"dtype": 0, "shape": (), "shard": 0, "offset": 0, "size": 0, "crc32c": 0, "sliced": False}
    for number, _, value in _fields(buf):
        if number == 1:
            values["dtype"] = value
        elif number == 2:
            values["shape"] = _shape(value)
        elif number == 3:
            values["shard"] = value
        elif number == 4:
            values["offset"] = _int64(value)
        elif number == 5:
            values["size"] = _int64(value)
        elif number == 6:
            values["crc32c"] = value
        elif number == 7:
            values["sliced"] = True
    return Entry(name=name, **values)


# -- the sorted table (.index) ------------------------------------------------------


def _block(data: bytes, offset: int, size: int, what: str) -> bytes:
    end = offset + size + BLOCK_TRAILER_SIZE
    if offset < 0 or size < 0 or end > len(data):
        raise _Malformed(f"{what} at {offset}+{size} lies beyond the end of the file ({len(data)} bytes)")
    contents = data[offset:offset + size]
    kind = data[offset + size]
    stored = struct.unpack_from("<I", data, offset + size + 1)[0]
    if unmask_crc(stored) != google_crc32c.value(data[offset:offset + size + 1]):
        raise _Malformed(f"{what} fails its crc32c check (the file is damaged)")
    if kind == 1:
        raise _Malformed(f"{what} is Snappy-compressed, which this reader does not support "
                         "(TensorFlow writes checkpoint indexes uncompressed)")
    if kind != 0:
        raise _Malformed(f"{what} has unknown compression type {kind}")
    return contents


def _block_entries(block: bytes, what: str):
    if len(block) < 4:
        raise _Malformed(f"{what} is too short")
    restarts = struct.unpack_from("<I", block, len(block) - 4)[0]
    limit = len(block) - 4 - 4 * restarts
    if limit < 0:
        raise _Malformed(f"{what} has a bad restart count {restarts}")
    pos, key = 0, b""
    while pos < limit:
        shared, pos = _varint(block, pos)
        unshared, pos = _varint(block, pos)
        length, pos = _varint(block, pos)
        if shared > len(key) or pos + unshared + length > limit:
            raise _Malformed(f"{what} has a corrupt entry")
        key = key[:shared] + block[pos:pos + unshared]
        pos += unshared
        yield key, block[pos:pos + length]
        pos += length


def _handle(buf: bytes, pos: int = 0) -> tuple:
    offset, pos = _varint(buf, pos)
    size, pos = _varint(buf, pos)
    return offset, size, pos


def read_index(data: bytes, where: str = "the checkpoint index") -> tuple:
    """Parse an ``.index`` file: returns ``(num_shards, [Entry, ...])``."""
    try:
        if len(data) < FOOTER_SIZE:
            raise _Malformed(f"{len(data)} bytes, too short for a checkpoint index")
        footer = data[-FOOTER_SIZE:]
        if struct.unpack_from("<Q", footer, FOOTER_SIZE - 8)[0] != TABLE_MAGIC:
            raise _Malformed("not a TensorFlow checkpoint index (no table magic number at the end)")
        _, _, pos = _handle(footer)  # the metaindex block: empty in checkpoints
        index_offset, index_size, _ = _handle(footer, pos)
        index = _block(data, index_offset, index_size, "the index block")
        header = None
        entries = []
        for _, handle in _block_entries(index, "the index block"):
            offset, size, _ = _handle(handle)
            block = _block(data, offset, size, f"the data block at byte {offset}")
            for key, value in _block_entries(block, f"the data block at byte {offset}"):
                if key == b"":
                    header = value
                else:
                    entries.append(_entry(key.decode("utf-8", "replace"), value))
    except _Malformed as e:
        raise ToolError(f"{where}: {e}") from None
    if header is None:
        raise ToolError(f"{where}: no bundle header (the empty key): not a TensorFlow V2 checkpoint")
    num_shards, endianness = 1, 0
    for number, _, value in _fields(header):
        if number == 1:
            num_shards = value
        elif number == 2:
            endianness = value
    if endianness != 0:
        raise ToolError(f"{where}: a big-endian checkpoint, which this reader does not support")
    return num_shards, entries


# -- files: a zip, an .index file or a prefix --------------------------------------------


def shard_name(prefix: str, shard: int, num_shards: int) -> str:
    return f"{prefix}.data-{shard:05d}-of-{num_shards:05d}"


class _Files:
    """Opens the checkpoint's member files, in a zip or on disk."""

    def __init__(self, path: Path):
        self.path = path
        self.zip = None
        if path.is_file() and zipfile.is_zipfile(path):
            self.zip = zipfile.ZipFile(path)
            indexes = [n for n in self.zip.namelist() if n.endswith(".index") and not n.endswith("/")]
            if not indexes:
                names = ", ".join(self.zip.namelist()[:8]) or "nothing"
                raise ToolError(f"{path}: the zip holds no TensorFlow checkpoint (no .index file; it holds {names})")
            if len(indexes) > 1:
                raise ToolError(f"{path}: the zip holds several checkpoints ({', '.join(indexes)}); "
                                "unpack it and pass one .index file")
            self.prefix = indexes[0][: -len(".index")]
        else:
            text = str(path)
            self.prefix = text[: -len(".index")] if text.endswith(".index") else text
            if not Path(self.prefix + ".index").is_file():
                raise ToolError(f"{path}: no checkpoint there (looked for {self.prefix}.index; pass the zip, "
                                "the .index file or the checkpoint prefix)")

    def label(self, member: str) -> str:
        return f"{self.path}: {member}" if self.zip else member

    def read_index(self) -> tuple:
        name = self.prefix + ".index"
        try:
            data = self.zip.read(name) if self.zip else Path(name).read_bytes()
        except (OSError, zipfile.BadZipFile, EOFError) as e:
            raise ToolError(f"cannot read {self.label(name)}: {e}") from None
        return read_index(data, self.label(name))

    def open_shard(self, shard: int, num_shards: int):
        name = shard_name(self.prefix, shard, num_shards)
        try:
            if self.zip:
                return name, self.zip.open(name)
            return name, open(name, "rb")
        except KeyError:
            raise ToolError(f"{self.path}: the zip has no data shard {name}") from None
        except OSError as e:
            raise ToolError(f"cannot read the data shard {name}: {e.strerror or e}") from None

    def close(self):
        if self.zip:
            self.zip.close()


def _read_exact(f, n: int) -> bytes:
    chunks, left = [], n
    while left:
        chunk = f.read(min(left, 1 << 24))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def read_checkpoint(path, wanted=None) -> dict:
    """Read every numeric tensor (or those whose names ``wanted(name)`` accepts)
    as ``{name: ndarray}``, checking each one's size and crc32c.

    ``path`` is a zip holding the checkpoint, its ``.index`` file, or its
    prefix (``.../NYU_FCRN.ckpt``)."""
    files = _Files(Path(path))
    try:
        num_shards, entries = files.read_index()
        entries = [e for e in entries if wanted is None or wanted(e.name)]
        out: dict = {}
        by_shard: dict = {}
        for e in entries:
            if e.sliced:
                raise ToolError(f"{files.label(files.prefix + '.index')}: variable '{e.name}' is saved in slices "
                                "(a partitioned variable), which this reader does not support")
            if e.shard >= num_shards:
                raise ToolError(f"{files.label(files.prefix + '.index')}: variable '{e.name}' is in shard "
                                f"{e.shard} of {num_shards}")
            by_shard.setdefault(e.shard, []).append(e)
        for shard, group in sorted(by_shard.items()):
            name, f = files.open_shard(shard, num_shards)
            label = files.label(name)
            with f:
                pos = 0
                for e in sorted(group, key=lambda e: e.offset):
                    if e.dtype not in DTYPES:
                        raise ToolError(f"{label}: variable '{e.name}' has dtype {e.dtype_name}, "
                                        "which is not a numeric tensor this reader supports")
                    want = DTYPES[e.dtype].itemsize * int(np.prod(e.shape, dtype=np.int64))
                    if e.size != want:
                        raise ToolError(f"{label}: variable '{e.name}' ({e.dtype_name}, shape {e.shape}) has "
                                        f"{e.size} bytes, expected {want}")
                    if e.offset < pos:
                        raise ToolError(f"{label}: variable '{e.name}' overlaps the tensor before it")
                    if e.offset > pos:
                        if files.zip:  # a zip member is a stream: read past the gap
                            _read_exact(f, e.offset - pos)
                        else:
                            f.seek(e.offset)
                        pos = e.offset
                    raw = _read_exact(f, e.size)
                    pos += len(raw)
                    if len(raw) != e.size:
                        raise ToolError(f"{label}: the data shard is truncated: variable '{e.name}' needs bytes "
                                        f"{e.offset}-{e.offset + e.size} but the file ends at {pos}")
                    if google_crc32c.value(raw) != unmask_crc(e.crc32c):
                        raise ToolError(f"{label}: variable '{e.name}' fails its crc32c check "
                                        "(the data shard is damaged)")
                    out[e.name] = np.frombuffer(raw, DTYPES[e.dtype]).reshape(e.shape).astype(
                        DTYPES[e.dtype].newbyteorder("="))
        return out
    except (zipfile.BadZipFile, EOFError, OSError) as e:
        raise ToolError(f"cannot read {path}: {e}") from None
    finally:
        files.close()


def is_weight(name: str) -> bool:
    """``<layer>/<param>`` names are the network's variables; scope-less names
    (``x_0``, ``global_step``) are not."""
    return "/" in name


def weight_dict(path) -> dict:
    """The checkpoint's weights as ``{layer: {param: array}}``, like the ``.npy``."""
    out: dict = {}
    for name, array in read_checkpoint(path, wanted=is_weight).items():
        layer, param = name.rsplit("/", 1)
        out.setdefault(layer, {})[param] = array
    return out
